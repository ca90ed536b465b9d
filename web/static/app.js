// The fieldsync map: observations from /api/observations.geojson (clustered
// by the server at low zoom), details from /api/observations/{id}, devices
// and the index counter from /api/status (polled: new observations appear
// without a reload). Everything it loads comes from this server.
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { counter: null, fitted: false, loading: 0, filters: new URLSearchParams(), seq: 0 };

  const map = L.map('map', { worldCopyJump: true, preferCanvas: false }).setView([0, 0], 2);
  const dataLayer = L.layerGroup().addTo(map);

  // Basemap: the served MBTiles, else the built-in Natural Earth land.
  fetch('api/basemap').then((r) => r.json()).then((b) => {
    if (b.tiles) {
      L.tileLayer('api/tiles/{z}/{x}/{y}', { minZoom: b.minzoom, maxZoom: b.maxzoom, attribution: b.name || 'basemap' }).addTo(map).bringToBack();
    } else {
      return fetch('vendor/world-atlas-2.0.2/land-110m.json').then((r) => r.json()).then((topo) => {
        L.geoJSON(topoFeature(topo, topo.objects.land), {
          style: { color: '#8a9a8a', weight: 1, fillColor: '#eef0e4', fillOpacity: 1 }, interactive: false,
        }).addTo(map).bringToBack();
        map.attributionControl.addAttribution('Natural Earth');
      });
    }
  });

  // topoFeature turns a TopoJSON GeometryCollection into GeoJSON.
  function topoFeature(topo, obj) {
    const t = topo.transform;
    const arcs = topo.arcs.map((arc) => {
      let x = 0, y = 0;
      return arc.map((p) => {
        x += p[0]; y += p[1];
        return t ? [x * t.scale[0] + t.translate[0], y * t.scale[1] + t.translate[1]] : [p[0], p[1]];
      });
    });
    const ring = (ids) => {
      const out = [];
      ids.forEach((i, n) => {
        let a = i < 0 ? arcs[~i].slice().reverse() : arcs[i];
        if (n > 0) a = a.slice(1);
        out.push(...a);
      });
      return out;
    };
    const geom = (g) => {
      if (g.type === 'Polygon') return { type: 'Polygon', coordinates: g.arcs.map(ring) };
      if (g.type === 'MultiPolygon') return { type: 'MultiPolygon', coordinates: g.arcs.map((p) => p.map(ring)) };
      return null;
    };
    return { type: 'FeatureCollection', features: obj.geometries.map((g) => ({ type: 'Feature', properties: {}, geometry: geom(g) })).filter((f) => f.geometry) };
  }

  function query(extra) {
    const q = new URLSearchParams(state.filters);
    for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
    return q.toString();
  }

  const markers = {}; // observation id → layer (for tests and clicks)

  function load() {
    const seq = ++state.seq;
    state.loading++;
    document.body.dataset.loading = 'true';
    return fetch('api/observations.geojson?' + query({ zoom: map.getZoom() }))
      .then((r) => r.ok ? r.json() : r.json().then((e) => { throw new Error(e.error); }))
      .then((fc) => {
        if (seq !== state.seq) return;
        $('filter-error').textContent = '';
        draw(fc);
        if (!document.body.dataset.firstPaint) {
          // When the first observations are on screen (bench/web.sh reads it).
          requestAnimationFrame(() => {
            const ms = Math.round(performance.now());
            document.body.dataset.firstPaint = ms;
            console.info('fieldsync first paint ' + ms + ' ms: ' + fc.count + ' observations as ' + fc.features.length + ' features' + (fc.clustered ? ' (clustered)' : ''));
          });
        }
        if (!state.fitted && fc.bbox) {
          state.fitted = true;
          const [w, s, e, n] = fc.bbox;
          map.fitBounds([[s, w], [n, e]], { padding: [30, 30], maxZoom: 14 });
        }
      })
      .catch((err) => { $('filter-error').textContent = err.message; })
      .finally(() => {
        state.loading--;
        if (state.loading === 0) {
          document.body.dataset.loading = 'false';
          document.body.dataset.loaded = String(state.seq);
        }
      });
  }

  function draw(fc) {
    dataLayer.clearLayers();
    for (const k of Object.keys(markers)) delete markers[k];
    const n = fc.count;
    $('count').textContent = n === 1 ? '1 observation' : n + ' observations';
    $('count').dataset.count = n;
    for (const f of fc.features) {
      const p = f.properties;
      if (p['fieldsync:cluster']) {
        const c = p['fieldsync:cluster'];
        const size = c < 100 ? 30 : c < 1000 ? 38 : 46;
        const icon = L.divIcon({ className: 'cluster' + (p['fieldsync:forked'] ? ' forked' : ''), html: String(c), iconSize: [size, size] });
        const [lon, lat] = f.geometry.coordinates;
        L.marker([lat, lon], { icon, title: c + ' observations' })
          .on('click', () => map.setView([lat, lon], Math.min(map.getZoom() + 3, 18)))
          .addTo(dataLayer);
        continue;
      }
      const forked = !!p['fieldsync:forked'];
      const style = { radius: 7, color: forked ? '#f28c28' : '#fff', weight: forked ? 3 : 1.5, fillColor: '#23413a', fillOpacity: 0.9 };
      const layer = L.geoJSON(f, {
        pointToLayer: (_, ll) => L.circleMarker(ll, style),
        style: () => ({ color: forked ? '#f28c28' : '#23413a', weight: 2, fillOpacity: 0.25 }),
      });
      const title = (p.category || 'observation') + (forked ? ' (conflicting edits)' : '');
      layer.bindTooltip(title);
      layer.on('click', () => show(f.id));
      layer.addTo(dataLayer);
      markers[f.id] = layer;
    }
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function value(v) {
    return typeof v === 'string' ? v : JSON.stringify(v);
  }

  function show(id) {
    return fetch('api/observations/' + encodeURIComponent(id)).then((r) => r.json()).then((o) => {
      const cur = o.versions.find((v) => v.current) || o.versions[0];
      const rec = cur.record;
      $('detail').hidden = false;
      $('detail').dataset.id = o.id;
      $('detail-title').textContent = (rec.tags.category || 'Observation') + (o.deleted ? ' (deleted)' : '');
      const body = $('detail-body');
      body.replaceChildren();
      if (o.forked) body.append(el('p', 'Conflicting edits: ' + o.versions.filter((v) => v.head).length + ' versions were made without seeing each other; the newest is shown.', 'conflict'));
      const dl = el('dl');
      const row = (k, v) => { dl.append(el('dt', k), el('dd', v)); };
      if (rec.tags.notes) row('notes', value(rec.tags.notes));
      row('by', cur.author);
      row('created', rec.created);
      if (rec.updated !== rec.created) row('updated', rec.updated);
      if (rec.geometry && rec.geometry.type === 'Point') row('where', rec.geometry.coordinates[1].toFixed(5) + ', ' + rec.geometry.coordinates[0].toFixed(5));
      else if (rec.geometry) row('shape', rec.geometry.type);
      for (const k of Object.keys(rec.tags).sort()) if (k !== 'notes' && k !== 'category') row(k, value(rec.tags[k]));
      row('id', o.id);
      body.append(dl);
      for (const a of rec.attachments || []) {
        const url = 'api/media/' + encodeURIComponent(o.id) + '/' + encodeURIComponent(a.name);
        if (/^image\/(jpeg|png|gif|webp)$/.test(a.type)) {
          const img = el('img');
          img.alt = a.name;
          img.src = url;
          body.append(img);
        }
        const link = el('a', a.name + ' (' + Math.round(a.size / 1024) + ' KB)');
        link.href = url;
        link.download = a.name;
        const div = el('div');
        div.append(link);
        body.append(div);
      }
      body.append(el('h3', o.versions.length + (o.versions.length === 1 ? ' version' : ' versions')));
      for (const v of o.versions) {
        const d = el('div', undefined, 'version' + (v.current ? ' current' : ''));
        d.append(el('div', v.record.updated + ' by ' + v.author + (v.current ? ' (shown)' : v.head ? ' (conflicting)' : '') + (v.record.deleted ? ' deleted' : '')));
        const tags = Object.entries(v.record.tags).map(([k, x]) => k + '=' + value(x)).join(' ');
        d.append(el('div', tags));
        body.append(d);
      }
    });
  }

  $('detail-close').addEventListener('click', () => { $('detail').hidden = true; });

  function readFilters() {
    const q = new URLSearchParams();
    const put = (name, v) => { if (v) q.append(name, v); };
    put('since', $('f-since').value);
    put('until', $('f-until').value);
    for (const t of $('f-tag').value.split(',')) put('tag', t.trim());
    put('device', $('f-device').value.trim());
    put('q', $('f-q').value.trim());
    if ($('f-deleted').checked) q.set('deleted', 'true');
    state.filters = q;
    const s = q.toString();
    $('export-geojson').href = 'api/export.geojson' + (s ? '?' + s : '');
    $('export-gpkg').href = 'api/export.gpkg' + (s ? '?' + s : '');
    const extra = q.has('device') || q.has('q');
    const ev = new URLSearchParams(q);
    ev.delete('device'); ev.delete('q');
    $('export-evidence').href = 'api/export/evidence.zip' + (ev.toString() ? '?' + ev : '');
    $('export-evidence').classList.toggle('disabled', extra);
    $('evidence-note').hidden = !extra;
  }

  $('filters').addEventListener('submit', (e) => { e.preventDefault(); readFilters(); load(); });
  $('clear').addEventListener('click', () => { $('filters').reset(); readFilters(); load(); });
  map.on('zoomend', () => load());

  function status() {
    return fetch('api/status').then((r) => r.json()).then((s) => {
      $('project').textContent = s.project + ' — ' + s.device;
      document.title = s.project + ' — fieldsync map';
      const list = $('devices');
      list.replaceChildren();
      for (const d of s.devices || []) {
        const li = el('li');
        li.append(el('span', undefined, 'dot' + (d.connected || d.thisDevice ? ' on' : '')));
        li.append(document.createTextNode(d.name + (d.thisDevice ? ' (this device)' : '') + ': ' + d.observations + ' observations'
          + (d.connected ? ', connected' + (d.coresBehind ? ', ' + d.coresBehind + ' cores behind' : ', up to date') : '')));
        list.append(li);
      }
      const sync = s.sync;
      $('sync-state').textContent = sync
        ? 'Syncing on ' + sync.listen + ': ' + (sync.peers || []).length + ' connected' + (sync.peers || []).map((p) => ' ' + (p.name || p.key.slice(0, 8)) + (p.coresBehind ? ' (' + p.coresBehind + ' cores behind)' : '')).join(',')
        : 'No sync running here (fieldsync serve --http shows live sync).';
      if (state.counter !== null && s.counter !== state.counter) {
        $('live').textContent = 'updated ' + new Date().toLocaleTimeString();
        load();
      }
      state.counter = s.counter;
      document.body.dataset.counter = s.counter;
    }).catch(() => { $('live').textContent = 'server not answering'; });
  }

  // A selection can be given in the address: #tag=category=mining&since=2026-03-01.
  if (location.hash.length > 1) {
    const h = new URLSearchParams(location.hash.slice(1));
    const set = (id, name) => { if (h.has(name)) $(id).value = h.getAll(name).join(','); };
    set('f-since', 'since'); set('f-until', 'until'); set('f-tag', 'tag'); set('f-device', 'device'); set('f-q', 'q');
    $('f-deleted').checked = h.get('deleted') === 'true';
  }
  readFilters();
  status();
  load();
  setInterval(status, 2000);

  // For tests and scripts driving the page: where an observation's marker is.
  window.fieldsyncMap = {
    map,
    markerPoint(id) {
      const l = markers[id];
      if (!l) return null;
      const ll = l.getBounds ? l.getBounds().getCenter() : l.getLatLng();
      const p = map.latLngToContainerPoint(ll);
      const r = $('map').getBoundingClientRect();
      return { x: p.x + r.left, y: p.y + r.top };
    },
    ids: () => Object.keys(markers),
  };
})();
