// A scenario's regexes run against what visitors type, on the one thread every conversation of the
// process shares. A group repeated without bound that itself holds a variable repeat — (\w+\s?)*,
// (a+)+, ([a-z]{1,3})+ — lets the engine try exponentially many ways to split a string that
// almost matches: 30 typed characters hold the process for seconds, 40 for hours. The compiler
// refuses such a pattern, naming the group, unless the group opens with a separator none of its
// repeats can match — (\s\w+)*, (,\d+)*, (\.[a-z]+)+ — which leaves one way to split. Part of
// compile/ (pure).

interface OpenGroup {
  start: number;
  /** The atoms inside that repeat a variable number of times (a nested group counts as one). */
  repeats: string[];
  /** The group's first atom, and its last, when read once (candidates for a separator). */
  lead: string | null;
  tail: string | null;
  /** It holds a "|": an alternative may open or close with anything. */
  alternatives: boolean;
  /** Atoms read so far. */
  atoms: number;
}

/** The first group of `source` that repeats without bound and can split text more than one way, or null. */
export function nestedRepeat(source: string, flags = ''): string | null {
  const open: OpenGroup[] = [{ start: 0, repeats: [], lead: null, tail: null, alternatives: false, atoms: 0 }];
  // The atom just read: a closed group (with its repeats), or a character, class or escape.
  let last: { text: string; group: OpenGroup | null; first: boolean } | null = null;
  const atom = (from: number, to: number) => {
    const g = open.at(-1)!;
    last = { text: source.slice(from, to + 1), group: null, first: g.atoms++ === 0 };
    g.tail = last.text;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const from = i;
    if (c === '\\') {
      i++;
      if (source[i] === 'u' || source[i] === 'x' || source[i] === 'p' || source[i] === 'P' || source[i] === 'k') {
        // \u{…}, \p{…}, \k<…> and fixed-width escapes: one atom, skipped as a whole.
        const end = /^(?:u\{[^}]*\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|[pP]\{[^}]*\}|k<[^>]*>)/.exec(source.slice(i));
        if (end) i += end[0].length - 1;
      }
      atom(from, i);
    } else if (c === '[') {
      for (i++; i < source.length && source[i] !== ']'; i++) if (source[i] === '\\') i++;
      atom(from, i);
    } else if (c === '(') {
      open.at(-1)!.atoms++;
      open.at(-1)!.tail = null;
      open.push({ start: i, repeats: [], lead: null, tail: null, alternatives: false, atoms: 0 });
      // (?:…, (?=…, (?!…, (?<=…, (?<!… and (?<name>…: the prefix is no atom.
      if (source[i + 1] === '?') i = source[i + 2] !== '<' ? i + 2 : source[i + 3] === '=' || source[i + 3] === '!' ? i + 3 : Math.max(i + 2, source.indexOf('>', i));
      last = null;
    } else if (c === ')' && open.length > 1) {
      const group = open.pop()!;
      const parent = open.at(-1)!;
      parent.repeats.push(...group.repeats);
      last = { text: source.slice(group.start, i + 1), group, first: false };
    } else if (c === '|' || c === '^' || c === '$') {
      const g = open.at(-1)!;
      if (c === '|') g.alternatives = true;
      last = null;
    } else if ((c === '*' || c === '+' || c === '?' || c === '{') && last !== null) {
      const bounds = quantifier(source, i);
      if (bounds === null) {
        atom(from, i); // a literal "{"
        continue;
      }
      i = bounds.end;
      if (source[i + 1] === '?') i++; // lazy: the same backtracking
      const quantified: { text: string; group: OpenGroup | null; first: boolean } = last;
      const g = open.at(-1)!;
      if (quantified.group && bounds.max === Infinity && quantified.group.repeats.length > 0 && !separated(quantified.group, flags)) return quantified.text;
      if (bounds.max > bounds.min) g.repeats.push(quantified.text);
      g.tail = null;
      if (quantified.first && bounds.min === 0) g.lead = null;
      last = null;
    } else {
      atom(from, i);
    }
    const l = last as { text: string; group: OpenGroup | null; first: boolean } | null;
    if (l?.first && l.group === null) open.at(-1)!.lead = l.text;
  }
  return null;
}

/** Whether the group opens or closes with a separator that none of its repeated atoms can match. */
function separated(group: OpenGroup, flags: string): boolean {
  if (group.alternatives) return false;
  return [group.lead, group.tail].some((atom) => atom !== null && separates(atom, group.repeats, flags));
}

function separates(lead: string, repeats: string[], flags: string): boolean {
  const samples = lead === '\\s' ? [' ', '\t', '\n'] : lead.length === 1 && !/[.\w]/.test(lead) ? [lead] : lead.length === 2 && lead[0] === '\\' && /[^\w]/.test(lead[1]!) ? [lead[1]!] : null;
  if (samples === null) return false;
  const caseless = flags.replace(/[gyd]/g, '');
  return repeats.every((r) => {
    if (r.startsWith('(')) return false;
    try {
      const re = new RegExp(`^(?:${r})$`, caseless);
      return samples.every((s) => !re.test(s));
    } catch {
      return false;
    }
  });
}

/** The quantifier at `i`: its bounds and its last character, or null for a "{" that is a literal. */
function quantifier(source: string, i: number): { min: number; max: number; end: number } | null {
  const c = source[i];
  if (c === '*') return { min: 0, max: Infinity, end: i };
  if (c === '+') return { min: 1, max: Infinity, end: i };
  if (c === '?') return { min: 0, max: 1, end: i };
  const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i, i + 24));
  if (!m) return null;
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
  return { min, max, end: i + m[0].length - 1 };
}
