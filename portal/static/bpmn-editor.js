/* The BPMN editor (templates/admin/processes/editor.html): its data is the #editor-data JSON block. */
(function () {
  'use strict';
  const data = JSON.parse(document.getElementById('editor-data').textContent);
  const modeler = new BpmnModeler({
    container: '#canvas', propertiesPanel: { parent: '#properties' }, elementTemplates: data.templates
  });
  const canvas = () => modeler.get('canvas'), overlays = () => modeler.get('overlays');
  let marked = [];
  modeler.importXML(data.xml).then(() => canvas().zoom('fit-viewport'));

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
