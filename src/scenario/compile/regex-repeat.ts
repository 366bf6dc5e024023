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
  /** Where the group's own text starts, after "(" and any "?:", "?<name>"… prefix. */
  body: number;
}

/** A group that can split text many ways, and why: it holds a repeat, or its alternatives overlap. */
export interface SlowGroup {
  group: string;
  why: 'repeat' | 'alternatives';
}

/** The first group of `source` that repeats without bound (or MANY_TIMES) and can split text more than one way, or null. */
export function nestedRepeat(source: string, flags = ''): SlowGroup | null {
  const open: OpenGroup[] = [{ start: 0, repeats: [], lead: null, tail: null, alternatives: false, atoms: 0, body: 0 }];
  // The atom just read: a closed group (with its repeats), or a character, class or escape.
  let last: { text: string; group: OpenGroup | null; first: boolean; end?: number } | null = null;
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
      const group: OpenGroup = { start: i, repeats: [], lead: null, tail: null, alternatives: false, atoms: 0, body: i + 1 };
      open.push(group);
      // (?:…, (?=…, (?!…, (?<=…, (?<!… and (?<name>…: the prefix is no atom.
      if (source[i + 1] === '?') i = source[i + 2] !== '<' ? i + 2 : source[i + 3] === '=' || source[i + 3] === '!' ? i + 3 : Math.max(i + 2, source.indexOf('>', i));
      group.body = i + 1;
      last = null;
    } else if (c === ')' && open.length > 1) {
      const group = open.pop()!;
      const parent = open.at(-1)!;
      parent.repeats.push(...group.repeats);
      last = { text: source.slice(group.start, i + 1), group, first: false, end: i };
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
      const quantified: { text: string; group: OpenGroup | null; first: boolean; end?: number } = last;
      const g = open.at(-1)!;
      const group = quantified.group;
      // Unbounded, or bounded but many times: (.*a){12} tries every way to cut the text in 12, n^11 of them.
      if (group && bounds.max >= MANY_TIMES && group.repeats.length > 0 && !separated(group, flags)) return { group: quantified.text, why: 'repeat' };
      if (group && bounds.max === Infinity && group.alternatives && overlapping(alternativesOf(source.slice(group.body, quantified.end)), flags)) return { group: quantified.text, why: 'alternatives' };
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

/**
 * From this many repeats, a group holding a repeat is refused even when the count is bounded: the
 * ways to cut text among k repeats grow as its length to the power k - 1.
 */
const MANY_TIMES = 4;

/** A group's text cut at its own "|" (not those of nested groups or classes). */
function alternativesOf(body: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let from = 0;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c === '\\') i++;
    else if (c === '[') {
      for (i++; i < body.length && body[i] !== ']'; i++) if (body[i] === '\\') i++;
    }
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === '|' && depth === 0) {
      out.push(body.slice(from, i));
      from = i + 1;
    }
  }
  out.push(body.slice(from));
  return out;
}

/** Characters to try alternatives on: printable ASCII, white space, a few letters beyond it. */
const SAMPLES = [...Array.from({ length: 95 }, (_, k) => String.fromCharCode(32 + k)), '\t', '\n', 'é', 'ß', 'я', '中', '٣'];

/**
 * Whether two alternatives of a repeated group can match the same text — one character both match,
 * as in (\w|\d)+, or a literal alternative the others spell, as in (a|aa)+ — so that a repeat can
 * read it two ways, and text that almost matches twice as many ways per character.
 */
function overlapping(alternatives: string[], flags: string): boolean {
  const caseless = flags.replace(/[gyd]/g, '');
  let res: RegExp[];
  try {
    res = alternatives.map((a) => new RegExp(`^(?:${a})$`, caseless));
  } catch {
    return false;
  }
  for (const sample of SAMPLES) if (res.filter((re) => re.test(sample)).length > 1) return true;
  return alternatives.some((a, k) => {
    if (a.length < 2 || /[\\^$.|?*+()[\]{}]/.test(a)) return false; // a plain literal only
    const others = alternatives.filter((_, j) => j !== k);
    if (others.length === 0) return false;
    try {
      return new RegExp(`^(?:${others.join('|')})+$`, caseless).test(a);
    } catch {
      return false;
    }
  });
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
