/* The instance view's diagram (templates/admin/processes/instance.html): its data is the #instance-data JSON block. */
(async function () {
  'use strict';
  const data = JSON.parse(document.getElementById('instance-data').textContent);
  const viewer = new BpmnViewer({ container: '#diagram' });
  const xml = await (await fetch(data.xml_url, { credentials: 'same-origin' })).text();
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas'), registry = viewer.get('elementRegistry');
  canvas.zoom('fit-viewport');
  Object.entries(data.markers).forEach(([state, ids]) => ids.forEach(id => {
    if (registry.get(id)) canvas.addMarker(id, 'lf-' + state);
  }));
  document.getElementById('diagram').dataset.ready = 'true';
})();
