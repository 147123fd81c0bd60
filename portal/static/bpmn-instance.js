/* The instance view's diagram (templates/admin/processes/instance.html): its data is the #instance-data JSON block. */
(async function () {
  'use strict';
  const data = JSON.parse(document.getElementById('instance-data').textContent);
  const container = document.getElementById('diagram');
  // The navigated viewer, so that a diagram zoomed in can be dragged around to read the rest; the mouse wheel keeps
  // scrolling the page (the buttons zoom), or a reader scrolling down would get stuck in the diagram.
  const viewer = new BpmnNavigatedViewer({ container, zoomScroll: { enabled: false } });
  const xml = await (await fetch(data.xml_url, { credentials: 'same-origin' })).text();
  await viewer.importXML(xml);
  const canvas = viewer.get('canvas'), registry = viewer.get('elementRegistry');
  fit(canvas);
  Object.entries(data.markers).forEach(([state, ids]) => ids.forEach(id => {
    if (registry.get(id)) canvas.addMarker(id, 'lf-' + state);
  }));
  wireZoom(canvas, document.getElementById('zoom-controls'));
  // The canvas caches its size: tell it when the window (and so the container) changes.
  window.addEventListener('resize', () => canvas.resized());
  container.dataset.ready = 'true';

  /* The zoom buttons ([data-zoom] in, out, fit). In and out are inverse steps, so in-then-out comes back. */
  function wireZoom(canvas, toolbar) {
    const steps = { in: 1.25, out: 0.8 };
    toolbar.querySelectorAll('[data-zoom]').forEach(button => button.addEventListener('click', () => {
      const how = button.dataset.zoom;
      if (how === 'fit') fit(canvas);
      else canvas.zoom(Math.min(4, Math.max(0.1, canvas.zoom() * steps[how])));
    }));
  }
  /* The whole diagram, centred, a little inside the frame so that the outermost labels do not touch it. */
  function fit(canvas) {
    canvas.zoom('fit-viewport', 'auto');
    canvas.zoom(canvas.zoom() * 0.96);
  }
})();
