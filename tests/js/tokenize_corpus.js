// Reads {"rules": ..., "en": [sentences], "fr": [sentences], "fr_tokens": [[tokens]]} on
// stdin and prints {"en": [[tokens]], "fr": [[tokens]], "fr_text": [detokenised]} with the
// page's tokenizer (src/course_lib/web/tokenizer.js). Used by tests/test_export.py.
const path = require('path');
const { makeTokenizer } = require(path.join(__dirname, '..', '..', 'src', 'course_lib', 'web', 'tokenizer.js'));

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const data = JSON.parse(input);
  const tok = makeTokenizer(data.rules);
  const out = {
    en: data.en.map(tok.tokenizeEn),
    fr: data.fr.map(tok.tokenizeFr),
    fr_text: data.fr_tokens.map(tok.detokenizeFr),
  };
  process.stdout.write(JSON.stringify(out));
});
