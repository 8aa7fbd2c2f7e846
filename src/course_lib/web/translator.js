/* "Try the translator": the course's trained model, run in the browser by onnxruntime-web.
 *
 * Every <div class="course-translator"> of the page becomes a translator box
 * (data-compact="true" for the short version at the end of chapter 7). The files are found
 * next to this script, whatever page includes it:
 *
 *   <this folder>/manifest.json, vocab.json, tokenizer.json, encoder.onnx, decoder.onnx,
 *                 tokenizer.js                 (written by `course-lib export`)
 *   <this folder>/../vendor/onnxruntime-web/   (from npm, scripts/install_site_js.py)
 *
 * onnxruntime runs single-threaded WebAssembly (numThreads = 1, no proxy worker), so the
 * page needs no cross-origin isolation, and nothing is fetched from another host.
 * The decoding loop is chapter 5's greedy loop; course_lib/onnx_translator.py is its
 * Python twin, which the tests compare with PyTorch.
 */
(function () {
  'use strict';

  const HERE = new URL('.', document.currentScript.src);
  const ORT = new URL('../vendor/onnxruntime-web/', HERE);
  const PAD = 0;
  const START = 1;
  const END = 2;
  const UNK = 3;

  // ---------------------------------------------------------------- loading (once a page)

  let model = null; // a promise, shared by every translator box of the page

  async function fetchOk(name, kind) {
    const url = new URL(name, HERE);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${name}: HTTP ${response.status} ${response.statusText}`);
    return kind === 'json' ? response.json() : new Uint8Array(await response.arrayBuffer());
  }

  function loadScript(name) {
    return new Promise((resolve, reject) => {
      const tag = document.createElement('script');
      tag.src = new URL(name, HERE).href;
      tag.onload = resolve;
      tag.onerror = () => reject(new Error(`${name} did not load`));
      document.head.appendChild(tag);
    });
  }

  async function load() {
    const manifest = await fetchOk('manifest.json', 'json');
    const [vocab, rules] = await Promise.all([
      fetchOk(manifest.files.vocab, 'json'),
      fetchOk(manifest.files.tokenizer, 'json'),
      window.CourseTokenizer ? null : loadScript('tokenizer.js'),
    ]);
    const ort = await import(new URL('ort.wasm.min.mjs', ORT).href);
    ort.env.wasm.wasmPaths = ORT.href;
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.proxy = false;
    ort.env.logLevel = 'error';
    const options = { executionProviders: ['wasm'] };
    const encoder = await ort.InferenceSession.create(
      await fetchOk(manifest.files.encoder), options);
    const decoder = await ort.InferenceSession.create(
      await fetchOk(manifest.files.decoder), options);
    const srcWords = vocab.src.vocab.tokens;
    return {
      ort, manifest, encoder, decoder,
      tokenizer: window.CourseTokenizer.makeTokenizer(rules),
      srcWords,
      srcIds: new Map(srcWords.map((word, id) => [word, id])),
      tgtWords: vocab.tgt.vocab.tokens,
    };
  }

  // ---------------------------------------------------------------- the model (chapter 5)

  function ids(ort, list) {
    return new ort.Tensor('int64', BigInt64Array.from(list, BigInt), [1, list.length]);
  }

  function argmax(values) {
    let best = 0;
    for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
    return best;
  }

  function probability(logits, id) {
    let sum = 0;
    for (const value of logits) sum += Math.exp(value - logits[id]);
    return 1 / sum;
  }

  /** Cross-attention (1, layers, heads, src_len) -> mean over layers and heads (src_len). */
  function meanAttention(tensor) {
    const [, layers, heads, srcLen] = tensor.dims;
    const row = new Array(srcLen).fill(0);
    tensor.data.forEach((value, i) => (row[i % srcLen] += value / (layers * heads)));
    return row;
  }

  /** Greedy decoding: encode once, then feed <start> + the words so far until <end>. */
  async function greedy(m, srcIds, onWord) {
    const src = ids(m.ort, srcIds); // (1, src_len)
    const { memory } = await m.encoder.run({ src }); // (1, src_len, d_model)
    const maxNew = Math.max(1, Math.min(m.manifest.config.max_len - 1, 2 * srcIds.length + 10));
    const tokens = [START];
    const steps = [];
    for (let t = 0; t < maxNew; t++) {
      const out = await m.decoder.run({ tgt: ids(m.ort, tokens), memory, src });
      const logits = out.logits.data; // (vocab,): scores of the next word
      logits[PAD] = -Infinity; // never generated
      logits[START] = -Infinity;
      const next = argmax(logits);
      tokens.push(next);
      steps.push({ id: next, p: probability(logits, next), attention: meanAttention(out.cross_attention) });
      await onWord(steps);
      if (next === END) break;
    }
    return steps;
  }

  // ---------------------------------------------------------------- the page

  const STYLE = `
.course-translator { border: 1px solid #c9d3dd; border-radius: 6px; padding: 0.8em 1em; margin: 1em 0; }
.course-translator form { display: flex; gap: 0.5em; flex-wrap: wrap; }
.course-translator .translator-input { flex: 1 1 16em; font-size: 1.05em; padding: 0.3em 0.5em; }
.course-translator .translator-button { font-size: 1.05em; padding: 0.3em 1em; cursor: pointer; }
.course-translator .translator-status { color: #555; font-size: 0.9em; margin: 0.4em 0; }
.course-translator .translator-message { padding: 0.4em 0.7em; border-radius: 4px; margin: 0.5em 0; }
.course-translator .translator-message[data-level="error"] { background: #fde8e8; border-left: 4px solid #c62828; }
.course-translator .translator-message[data-level="warning"] { background: #fff5dd; border-left: 4px solid #d08c00; }
.course-translator .translator-output { font-size: 1.4em; font-weight: 600; min-height: 1.4em; margin: 0.4em 0; }
.course-translator .translator-steps { font-size: 0.9em; color: #333; padding-left: 1.6em; }
.course-translator .translator-map table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 0 0; }
.course-translator .translator-map-note { font-size: 0.85em; color: #555; margin: 0.3em 0 0 0; }
.course-translator .translator-map th { padding: 0.2em 0.5em; font-weight: 600; }
.course-translator .translator-map thead th { writing-mode: vertical-rl; transform: rotate(180deg); text-align: left; }
.course-translator .translator-map td { width: 2.6em; height: 2em; text-align: center; border: 1px solid #fff; }
.course-translator[data-compact="true"] .translator-steps { display: none; }
`;

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // never innerHTML: "<unk>" is text
    return node;
  }

  function build(box, number) {
    box.textContent = '';
    const form = element('form', 'translator-form');
    const label = element('label', 'translator-label', 'English sentence');
    label.htmlFor = `course-translator-input-${number}`;
    label.style.position = 'absolute';
    label.style.left = '-10000px';
    const input = element('input', 'translator-input');
    input.id = label.htmlFor;
    input.type = 'text';
    input.value = box.dataset.example || 'I hate pizza';
    input.autocomplete = 'off';
    input.spellcheck = false;
    const button = element('button', 'translator-button', 'Translate');
    button.type = 'submit';
    form.append(label, input, button);
    const parts = {
      box, form, input, button,
      status: element('p', 'translator-status', 'Loading the model…'),
      message: element('p', 'translator-message'),
      output: element('p', 'translator-output'),
      steps: element('ol', 'translator-steps'),
      map: element('div', 'translator-map'),
    };
    parts.status.setAttribute('aria-live', 'polite');
    parts.message.setAttribute('role', 'alert');
    parts.message.hidden = true;
    parts.output.lang = 'fr';
    box.append(form, parts.status, parts.message, parts.output, parts.steps, parts.map);
    return parts;
  }

  function say(ui, kind, level, text) {
    ui.message.hidden = false;
    ui.message.dataset.kind = kind;
    ui.message.dataset.level = level;
    ui.message.textContent = text;
  }

  function clear(ui) {
    ui.message.hidden = true;
    ui.message.textContent = '';
    delete ui.message.dataset.kind;
    delete ui.box.dataset.translateMs;
    ui.output.textContent = '';
    ui.steps.textContent = '';
    ui.map.textContent = '';
  }

  function drawMap(ui, m, sourceLabels, steps) {
    const config = m.manifest.config;
    const table = element('table');
    table.setAttribute('aria-label', 'cross-attention map');
    const head = element('thead');
    const top = element('tr');
    top.append(element('th'));
    for (const word of sourceLabels) {
      const th = element('th', null, word);
      th.scope = 'col';
      top.append(th);
    }
    head.append(top);
    const body = element('tbody');
    for (const step of steps) {
      const word = m.tgtWords[step.id];
      const row = element('tr');
      const th = element('th', null, word);
      th.scope = 'row';
      row.append(th);
      step.attention.forEach((weight, j) => {
        const cell = element('td', null, weight.toFixed(2));
        cell.title = `${word} ← ${sourceLabels[j]}: ${weight.toFixed(3)}`;
        cell.style.background = `rgba(33, 102, 172, ${weight.toFixed(3)})`;
        cell.style.color = weight > 0.5 ? '#fff' : '#222';
        row.append(cell);
      });
      body.append(row);
    }
    table.append(head, body);
    ui.map.append(table, element('p', 'translator-map-note',
      'Cross-attention: where each French word (row) looked in the English sentence ' +
      `(columns); the mean over all ${config.n_decoder_layers} decoder layers and ` +
      `${config.n_heads} heads, as in chapter 7. Darker = more attention.`));
  }

  async function translate(box, ui) {
    const started = performance.now();
    clear(ui);
    box.dataset.state = 'translating';
    let m;
    try {
      m = await model;
    } catch (error) {
      box.dataset.state = 'load-failed';
      say(ui, 'load-failed', 'error', loadFailure(error));
      return;
    }
    const sentence = ui.input.value;
    const words = m.tokenizer.tokenizeEn(sentence);
    if (!words.length) {
      box.dataset.state = 'error';
      say(ui, 'empty', 'error', 'Type an English sentence first, for example “I hate pizza”.');
      return;
    }
    const maxLen = m.manifest.config.max_len;
    if (words.length > maxLen) {
      box.dataset.state = 'error';
      say(ui, 'too-long', 'error',
        `This sentence has ${words.length} words and signs; the model reads at most ` +
        `${maxLen} (its positional encodings stop at max_len = ${maxLen}, chapter 2). ` +
        'Shorten it: the model was trained on sentences of a few words.');
      return;
    }
    const srcIds = words.map((word) => (m.srcIds.has(word) ? m.srcIds.get(word) : UNK));
    const unknown = words.filter((word, i) => srcIds[i] === UNK);
    if (unknown.length) {
      say(ui, 'unknown', 'warning',
        `Not in the model's English vocabulary: ${unknown.map((w) => `“${w}”`).join(', ')}. ` +
        `The model reads ${unknown.length > 1 ? 'them' : 'it'} as <unk> and still writes a ` +
        'sentence, but it cannot know what the word means: the translation below is a guess. ' +
        `It knows only the ${m.srcWords.length - 4} English words of the course's toy corpus.`);
    }
    ui.button.disabled = true;
    ui.status.textContent = 'Translating…';
    try {
      const steps = await greedy(m, srcIds, async (sofar) => {
        const last = sofar[sofar.length - 1];
        const words = sofar.filter((s) => s.id !== END).map((s) => m.tgtWords[s.id]);
        ui.output.textContent = m.tokenizer.detokenizeFr(words);
        ui.steps.append(element('li', null,
          `${m.tgtWords[last.id]}  (probability ${(100 * last.p).toFixed(1)}%)`));
        await new Promise((resolve) => setTimeout(resolve, 0)); // let the word appear
      });
      const labels = words.map((word, i) => (srcIds[i] === UNK ? `${word} (<unk>)` : word));
      drawMap(ui, m, labels, steps);
      const ms = performance.now() - started;
      box.dataset.translateMs = ms.toFixed(1);
      const ended = steps[steps.length - 1].id === END;
      ui.status.textContent = `${steps.length} greedy steps in ${ms.toFixed(0)} ms, in your browser` +
        (ended ? '.' : ' (stopped at the length limit before <end>).');
      box.dataset.state = 'done';
    } catch (error) {
      box.dataset.state = 'error';
      say(ui, 'failed', 'error', `The translation failed: ${error.message}`);
    } finally {
      ui.button.disabled = false;
    }
  }

  function loadFailure(error) {
    return `The translation model could not be loaded (${error.message}). The translator ` +
      'needs the files that `course-lib export` writes next to translator.js; rebuild the ' +
      'site with `make book`, or use course-lib translate on your computer.';
  }

  function start() {
    const boxes = Array.from(document.querySelectorAll('.course-translator'));
    if (!boxes.length) return;
    if (!document.getElementById('course-translator-style')) {
      const style = element('style', null, STYLE);
      style.id = 'course-translator-style';
      document.head.append(style);
    }
    if (!model) model = load();
    boxes.forEach((box, number) => {
      if (box.dataset.ready) return;
      box.dataset.ready = 'true';
      const ui = build(box, number);
      box.dataset.state = 'loading';
      ui.form.addEventListener('submit', (event) => {
        event.preventDefault();
        translate(box, ui);
      });
      model.then(
        (m) => {
          box.dataset.state = 'ready';
          ui.status.textContent = `Model loaded: ${m.manifest.config.n_encoder_layers}+` +
            `${m.manifest.config.n_decoder_layers} layers, d_model ${m.manifest.config.d_model}, ` +
            'running in your browser with onnxruntime-web.';
        },
        (error) => {
          box.dataset.state = 'load-failed';
          ui.status.textContent = 'The model is not available.';
          say(ui, 'load-failed', 'error', loadFailure(error));
        },
      );
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
