/* The BPMN editor (templates/admin/processes/editor.html): its data is the #editor-data JSON block. */
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('editor-data').textContent);
  const modeler = new BpmnModeler({
    container: '#canvas', propertiesPanel: { parent: '#properties' }, elementTemplates: data.templates
  });
  const canvas = () => modeler.get('canvas'), overlays = () => modeler.get('overlays');
  let marked = [];
  const container = document.getElementById('canvas');
  modeler.importXML(data.xml).then(() => {
    fitDiagram();
    container.dataset.ready = 'true';
  });
  wireZoom(document.getElementById('zoom-controls'));
  // The canvas caches its size: tell it when the window (and so the container) changes.
  window.addEventListener('resize', () => canvas().resized());

  /* The zoom buttons ([data-zoom] in, out, fit). In and out are inverse steps, so in-then-out comes back. */
  function wireZoom(toolbar) {
    const steps = { in: 1.25, out: 0.8 };
    toolbar.querySelectorAll('[data-zoom]').forEach(button => button.addEventListener('click', () => {
      const how = button.dataset.zoom;
      if (how === 'fit') fitDiagram();
      else canvas().zoom(Math.min(4, Math.max(0.1, canvas().zoom() * steps[how])));
    }));
  }
  /* canvas.zoom('fit-viewport') clear of the palette: the palette floats over the canvas's left side and would
     hide the start event, which a left-to-right diagram has there. */
  function fitDiagram() {
    canvas().zoom('fit-viewport', 'auto');  // what stays when the canvas is too small for margins
    const palette = container.querySelector('.djs-palette');
    const margin = 16, left = margin + (palette ? palette.getBoundingClientRect().right -
                                        container.getBoundingClientRect().left : 0);
    const { inner, outer } = canvas().viewbox();
    const room = { width: outer.width - left - margin, height: outer.height - 2 * margin };
    if (room.width <= 0 || room.height <= 0 || !inner.width || !inner.height) return;
    const scale = Math.min(1, room.width / inner.width, room.height / inner.height);
    const x = left + (room.width - inner.width * scale) / 2, y = margin + (room.height - inner.height * scale) / 2;
    canvas().viewbox({ x: inner.x - x / scale, y: inner.y - y / scale,
                       width: outer.width / scale, height: outer.height / scale });
  }

  function say(kind, text) {
    const box = document.getElementById('status');
    box.className = 'alert alert-' + kind; box.textContent = text;
  }
  function clearProblems() {
    marked.forEach(id => { try { canvas().removeMarker(id, 'lf-problem'); } catch (e) {} });
    overlays().remove({ type: 'lf-problem' }); marked = [];
    document.getElementById('problems').innerHTML = '';
  }
  function showProblems(problems) {
    clearProblems();
    const list = document.getElementById('problems');
    problems.forEach(p => {
      const item = document.createElement('li');
      item.textContent = (p.element_id || 'diagram') + ': ' + p.message; list.appendChild(item);
      if (p.element_id && modeler.get('elementRegistry').get(p.element_id)) {
        canvas().addMarker(p.element_id, 'lf-problem'); marked.push(p.element_id);
        const note = document.createElement('div'); note.className = 'lf-problem-note'; note.textContent = p.message;
        overlays().add(p.element_id, 'lf-problem', { position: { bottom: -4, left: 0 }, html: note });
      }
    });
  }
  const UNREADABLE = 'The server did not answer as expected (your session may have ended). Download the diagram ' +
    'to keep your work, then reload the page and sign in again.';
  async function send(url) {
    // Every answer becomes {ok, problems, error, message}: an expired session or token, or a network failure,
    // must say so instead of failing silently.
    try {
      const { xml } = await modeler.saveXML({ format: true });
      const response = await fetch(url, { method: 'POST', credentials: 'same-origin', redirect: 'error',
        headers: { 'Content-Type': 'application/json', 'Accept': 'application/json', 'X-CSRFToken': data.csrf },
        body: JSON.stringify({ xml }) });
      const typed = (response.headers.get('Content-Type') || '').includes('application/json');
      const result = typed ? await response.json() : { ok: false, error: UNREADABLE + ' (HTTP ' + response.status + ')' };
      return Object.assign({ problems: [] }, result);
    } catch (e) {
      return { ok: false, problems: [], error: UNREADABLE };
    }
  }
  function report(result, success, failure) {
    showProblems(result.problems);
    if (result.ok) say('success', success(result));
    else if (result.problems.length) say('danger', failure + result.problems.length + ' problem(s): see the marked elements.');
    else say('danger', failure + (result.error || UNREADABLE));
  }
  document.getElementById('validate').addEventListener('click', async () => {
    report(await send(data.validate_url), () => 'No problems found.', 'Not valid: ');
  });
  const deploy = document.getElementById('deploy');
  if (deploy) deploy.addEventListener('click', async () => {
    report(await send(data.deploy_url), result => result.message, 'Not deployed: ');
  });
  document.getElementById('download').addEventListener('click', async () => {
    const { xml } = await modeler.saveXML({ format: true });
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
    link.download = 'diagram.bpmn'; link.click();
  });
})();
