/* The course's word tokenizer in JavaScript: the same rules as course_lib/tokenize/words.py.
 *
 * The rules come as data (tokenizer.json, written by `course-lib export`): Python's regular
 * expressions, the character replacements, French spacing. Python's `\w` (Unicode letters,
 * digits and "_"), `\d` and `\b` are spelled here with Unicode property classes, which
 * JavaScript needs for non-ASCII words (its own `\w` and `\b` are ASCII-only).
 *
 * Works in the browser (window.CourseTokenizer) and in Node (require), where
 * tests/test_export.py checks it against Python on every sentence of the bundled corpus.
 */
(function (root) {
  'use strict';

  const WORD = '\\p{L}\\p{N}_'; // Python's \w, inside a character class

  /** Python regular expression (as course_lib/tokenize/words.py writes them) -> JavaScript RegExp. */
  function pythonRegex(pattern, flags) {
    let out = '';
    let inClass = false;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i];
      if (c === '\\') {
        const n = pattern[++i];
        if (n === 'w') out += inClass ? WORD : `[${WORD}]`;
        else if (n === 'd') out += '\\p{Nd}';
        else if (n === 'b') out += `(?:(?<![${WORD}])(?=[${WORD}])|(?<=[${WORD}])(?![${WORD}]))`;
        else out += '\\' + n;
        continue;
      }
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      out += c;
    }
    return new RegExp(out, flags);
  }

  function makeTokenizer(rules) {
    const enToken = pythonRegex(rules.en_pattern, 'gu');
    const frToken = pythonRegex(rules.fr_pattern, 'gu');
    const clitic = pythonRegex(`^(?:${rules.fr_clitic})$`, 'u');
    const capitaliseAfter = pythonRegex(rules.capitalise_after, 'gu');
    const noSpaceBefore = new Set(rules.fr_no_space_before);
    const noSpaceAfter = new Set(rules.fr_no_space_after);

    /** NFC, typographic apostrophes and non-breaking spaces replaced, lower case. */
    function normalise(text) {
      let out = text.normalize(rules.unicode_normalisation);
      out = Array.from(out, (c) => (c in rules.replace ? rules.replace[c] : c)).join('');
      return rules.lowercase ? out.toLowerCase() : out;
    }

    /** "I don't like pizza!" -> ["i", "don't", "like", "pizza", "!"] (tokenize_en). */
    function tokenizeEn(text) {
      return normalise(text).match(enToken) || [];
    }

    /** "J'aime l'eau !" -> ["j'", "aime", "l'", "eau", "!"] (tokenize_fr). */
    function tokenizeFr(text) {
      return normalise(text).match(frToken) || [];
    }

    function capitalise(text) {
      const first = text.slice(0, 1).toUpperCase() + text.slice(1);
      return first.replace(capitaliseAfter, (m, gap, letter) => gap + letter.toUpperCase());
    }

    /** ["j'", "aime", "la", "pizza"] -> "J'aime la pizza" (detokenize_fr). */
    function detokenizeFr(tokens) {
      let text = '';
      tokens.forEach((token, i) => {
        const previous = i ? tokens[i - 1] : null;
        const glue =
          previous === null ||
          noSpaceBefore.has(token) ||
          noSpaceAfter.has(previous) ||
          clitic.test(previous);
        text += glue ? token : ' ' + token;
      });
      return capitalise(text);
    }

    return { normalise, tokenizeEn, tokenizeFr, detokenizeFr };
  }

  const api = { makeTokenizer, pythonRegex };
  if (typeof module !== 'undefined' && module.exports) module.exports = api;
  else root.CourseTokenizer = api;
})(typeof globalThis !== 'undefined' ? globalThis : this);
