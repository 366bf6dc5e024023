// How the sandbox's text searches (conversations, people) compare a query with what is stored.
// Crisp does not document how its search folds text, so the sandbox does what a person searching
// expects (docs/sandbox.md, "Choices where Crisp's behaviour is unverified"): the same word in any Unicode
// form (café typed composed or decomposed, full-width ｃａｆｅ), in any case (STRASSE finds Straße,
// İSTANBUL finds Istanbul), with or without the accents of Latin, Greek and Cyrillic letters.
// The marks of other scripts (Hindi's vowel signs) stay: dropping them would join different words.

const ACCENTS = /([\p{Script=Latin}\p{Script=Greek}\p{Script=Cyrillic}])\p{Mn}+/gu;
const ASCII = /^[\x20-\x7E]*$/;

/** `text` as a search compares it; a query matches where its key is a substring of the stored text's key. */
export function searchKey(text: string): string {
  if (ASCII.test(text)) return text.toLowerCase();
  // Upper then lower case is a full case folding (ß and SS meet at ss, ı and İ at i); decomposed
  // first so the accents come apart from their letters, composed again so what stays is one form.
  return text.normalize('NFKD').toUpperCase().toLowerCase().replace(ACCENTS, '$1').normalize('NFC');
}
