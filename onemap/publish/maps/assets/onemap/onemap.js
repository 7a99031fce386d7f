/* onemap map runtime: draws the compact layer data embedded by onemap.maps, with
 * styles, tooltips, popups and legends derived from the layer files.
 * Plain ES2015 on top of Leaflet 1.9; no other dependency. */
(function () {
  "use strict";

  var numberFormat = new Intl.NumberFormat("id-ID", { maximumFractionDigits: 3 });
  var plainFormat = new Intl.NumberFormat("id-ID", {
    maximumFractionDigits: 3, useGrouping: false
  });
  var ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) { return ESCAPES[c]; });
  }

  function isMissing(v) {
    return v === null || v === undefined || v === "";
  }

  /* [text, english or null] for a value of a field spec; null when missing. */
  function valueText(field, v) {
    if (isMissing(v)) return null;
    if (field.values && Object.prototype.hasOwnProperty.call(field.values, v)) {
      var labels = field.values[v];
      return [labels[0], labels[1] && labels[1] !== labels[0] ? labels[1] : null];
    }
    if (typeof v === "number") return [(field.plain ? plainFormat : numberFormat).format(v), null];
    if (typeof v === "boolean") return [v ? "Ya / Yes" : "Tidak / No", null];
    return [String(v), null];
  }

  /* Geometry from the display rows: [type, coords], lines and rings as flat integer
   * lists (first point absolute, then deltas) at `scale` units per degree. */
  function decodeGeometry(geometry, scale) {
    function point(c) { return [c[0] / scale, c[1] / scale]; }
    function part(a) {
      var out = [], x = 0, y = 0;
      for (var i = 0; i < a.length; i += 2) {
        x += a[i];
        y += a[i + 1];
        out.push([x / scale, y / scale]);
      }
      return out;
    }
    function rings(p) { return p.map(part); }
    var decoders = {
      Point: point,
      MultiPoint: function (c) { return c.map(point); },
      LineString: part,
      MultiLineString: rings,
      Polygon: rings,
      MultiPolygon: function (c) { return c.map(rings); }
    };
    return { type: geometry[0], coordinates: decoders[geometry[0]](geometry[1]) };
  }

  function featureColor(spec, props) {
    if (spec.colorIndex >= 0) {
      var c = spec.colors[props[spec.colorIndex]];
      if (c) return c;
    }
    return spec.style.color;
  }

  /* Lines drawn thinner when zoomed out: at city scale a road network in its street-level
   * weight covers everything under it. The layer file's weight applies from zoom 14. */
  function lineScale(zoom) {
    return zoom >= 14 ? 1 : zoom >= 13 ? 0.8 : zoom >= 12 ? 0.6 : 0.45;
  }

  /* The style function of a layer; `state.scale` (lines only) thins it out by zoom. */
  function styler(spec, state) {
    return function (feature) {
      var c = featureColor(spec, feature.properties);
      var style = Object.assign({}, spec.style, { color: spec.strokeColor || c, fillColor: c });
      if (state) style.weight = spec.style.weight * state.scale;
      return style;
    };
  }

  /* Keep `state.scale` in step with the map's zoom while `group` is on a map. Before the
   * paths are first drawn only their options change (no second pass over the SVG). */
  function scaleWithZoom(group, state, weight) {
    var map = null;
    var update = function () {
      var scale = lineScale(map.getZoom());
      if (scale !== state.scale) {
        state.scale = scale;
        group.setStyle(group.options.style);
      }
    };
    group.beforeAdd = function (m) {
      state.scale = lineScale(m.getZoom());
      group.eachLayer(function (l) { l.options.weight = weight * state.scale; });
    };
    group.on("add", function () { map = group._map; map.on("zoomend", update); });
    group.on("remove", function () { if (map) map.off("zoomend", update); map = null; });
  }

  function tooltipText(spec, layer) {
    var props = layer.feature.properties;
    for (var i = 0; i < spec.tooltipIndex.length; i++) {
      var idx = spec.tooltipIndex[i];
      var t = valueText(spec.fields[idx], props[idx]);
      if (t) return esc(t[0]);
    }
    return esc(spec.title);
  }

  function popupHtml(spec, layer) {
    return popupFor(spec, layer.feature.properties);
  }

  /* The popup of a feature whose values are `props`, in the order of spec.fields. */
  function popupFor(spec, props) {
    var rows = spec.fields.map(function (field, i) {
      var t = valueText(field, props[i]);
      var en = field.labelEn && field.labelEn !== field.label ? field.labelEn : null;
      var th = esc(field.label) +
        (field.synthetic ? ' <span class="onemap-tag" title="synthetic">sintetis</span>' : "");
      var td = t ? esc(t[0]) + (t[1] ? ' <span class="onemap-en-inline">' + esc(t[1]) +
        "</span>" : "") : '<span class="onemap-missing">–</span>';
      return "<tr><th" + (en ? ' title="' + esc(en) + '"' : "") + ">" + th + "</th><td>" + td +
        "</td></tr>";
    });
    var head = '<div class="onemap-popup-title">' + esc(spec.title) + "</div>";
    var foot = spec.synthetic
      ? '<div class="onemap-popup-note">Lapisan berisi data sintetis / layer contains synthetic data</div>'
      : "";
    return '<div class="onemap-popup">' + head + "<table>" + rows.join("") + "</table>" + foot +
      "</div>";
  }

  function highlight(spec, layer) {
    var base = spec.style;
    layer.setStyle({
      weight: base.weight + 2,
      opacity: 1,
      fillOpacity: Math.min(1, base.fillOpacity + 0.2)
    });
    if (layer.bringToFront) layer.bringToFront();
  }

  /* A Leaflet GeoJSON layer from {fields, scale, rows} display data and a layer spec.
   * options: extra L.geoJSON options (pane, attribution, interactive). */
  function layer(data, spec, options) {
    var features = data.rows.map(function (row) {
      return { type: "Feature", geometry: decodeGeometry(row[0], data.scale),
        properties: row[1] };
    });
    options = Object.assign({}, options || {});
    var interactive = options.interactive !== false;
    var attribution = options.attribution;
    delete options.attribution;  // on the group only, not copied onto every feature
    var state = spec.family === "line" ? { scale: 1 } : null;
    var group = L.geoJSON(null, Object.assign({
      style: styler(spec, state),
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { pane: group.options.pane || "overlayPane" });
      }
    }, options));
    group.addData({ type: "FeatureCollection", features: features });
    if (state) scaleWithZoom(group, state, spec.style.weight);
    group.options.attribution = attribution;
    if (interactive && spec.fields.length) {
      group.bindTooltip(function (l) { return tooltipText(spec, l); }, { sticky: true });
      group.bindPopup(function (l) { return popupHtml(spec, l); }, { maxWidth: 380, maxHeight: 360 });
      group.on("mouseover", function (e) { highlight(spec, e.layer); });
      group.on("mouseout", function (e) { group.resetStyle(e.layer); });
    }
    return group;
  }

  /* A layer drawn from OGC API vector tiles (MVT, WebMercatorQuad) with Leaflet.VectorGrid,
   * styled and popped up from the same spec as the embedded layers (the tiles carry every
   * field as a property). Canvas tiles: a city's road network in SVG is too many nodes. */
  function tiles(url, spec, options) {
    if (!L.DomEvent.fakeStop) L.DomEvent.fakeStop = L.DomEvent.stop;  // VectorGrid 1.3 + Leaflet >= 1.8
    options = Object.assign({}, options || {});
    var style = function (properties, zoom) {
      var values = spec.fields.map(function (f) { return properties[f.name]; });
      var c = featureColor(spec, values);
      var weight = spec.style.weight * (spec.family === "line" ? lineScale(zoom) : 1);
      return Object.assign({}, spec.style, {
        color: spec.strokeColor || c, fillColor: c, fill: spec.family !== "line", weight: weight
      });
    };
    var styles = {};
    styles[spec.id] = style;
    var grid = L.vectorGrid.protobuf(url, Object.assign({
      rendererFactory: L.canvas.tile,
      vectorTileLayerStyles: styles,
      interactive: true,
      maxNativeZoom: 20
    }, options));
    // VectorGrid 1.3 leaves a failed fetch as an unhandled rejection: report it as a
    // tileerror (an empty tile) so the page can say the server is unreachable.
    var fetchTile = grid._getVectorTilePromise;
    grid._getVectorTilePromise = function (coords) {
      return fetchTile.apply(this, arguments).catch(function (error) {
        grid.fire("tileerror", { coords: coords, error: error });
        return { layers: [] };
      });
    };
    grid.on("click", function (e) {
      var values = spec.fields.map(function (f) { return e.layer.properties[f.name]; });
      L.popup({ maxWidth: 380, maxHeight: 360 }).setLatLng(e.latlng)
        .setContent(popupFor(spec, values)).openOn(grid._map);
    });
    grid.once("load", function () {
      if (window.performance && performance.mark) performance.mark("onemap:tiles:" + spec.id);
    });
    var failed = false;
    grid.on("tileerror", function () {
      if (failed) return;
      failed = true;
      var note = document.createElement("p");
      note.className = "onemap-note onemap-tile-error";
      note.textContent = "Server peta tidak terjangkau: " + spec.title + " tidak tampil / " +
        "map server unreachable: " + (spec.titleEn || spec.title) + " is not shown (" + url.split("/collections")[0] + ")";
      var title = document.querySelector(".onemap-title");
      if (title) title.appendChild(note);
    });
    return grid;
  }

  /* The locate-by-kecamatan list: picking an area fits the map to its bounds and
   * outlines it in `target` (a layer whose features carry the area code at keyIndex). */
  function locate(map, items, target, keyIndex) {
    if (!items.length) return null;
    var outlined = null;
    var Control = L.Control.extend({
      onAdd: function () {
        var box = L.DomUtil.create("div", "onemap-panel onemap-locate");
        var label = L.DomUtil.create("label", "", box);
        label.setAttribute("for", "onemap-locate-select");
        label.innerHTML = 'Cari kecamatan <span class="onemap-en-inline">/ Find a district</span>';
        var select = L.DomUtil.create("select", "", box);
        select.id = "onemap-locate-select";
        var first = L.DomUtil.create("option", "", select);
        first.value = "";
        first.textContent = "— pilih / choose (" + items.length + ") —";
        items.forEach(function (item, i) {
          var o = L.DomUtil.create("option", "", select);
          o.value = String(i);
          o.textContent = item.name + " (" + item.code + ")";
        });
        L.DomEvent.disableClickPropagation(box);
        L.DomEvent.disableScrollPropagation(box);
        L.DomEvent.on(select, "change", function () {
          if (select.value === "") return;
          var item = items[Number(select.value)];
          map.fitBounds(item.bounds, { padding: [24, 24] });
          if (outlined) target.resetStyle(outlined);
          outlined = null;
          if (target && keyIndex >= 0) {
            target.eachLayer(function (l) {
              if (l.feature && l.feature.properties[keyIndex] === item.code) outlined = l;
            });
            if (outlined) {
              outlined.setStyle({ weight: 4, color: "#111111", opacity: 1 });
              if (outlined.bringToFront) outlined.bringToFront();
            }
          }
        });
        return box;
      }
    });
    return new Control({ position: "topleft" }).addTo(map);
  }

  /* A control holding the server-rendered element with id `elementId`. */
  function panel(map, elementId, position) {
    var el = document.getElementById(elementId);
    var Control = L.Control.extend({
      onAdd: function () {
        L.DomEvent.disableClickPropagation(el);
        L.DomEvent.disableScrollPropagation(el);
        el.hidden = false;
        return el;
      }
    });
    return new Control({ position: position }).addTo(map);
  }

  /* Show each legend section only while its layer is on the map. */
  function syncLegend(map, pairs) {
    pairs.forEach(function (pair) {
      var section = document.getElementById(pair[1]);
      if (!section) return;
      var update = function () { section.hidden = !map.hasLayer(pair[0]); };
      pair[0].on("add remove", update);
      update();
    });
  }

  window.onemap = {
    layer: layer, tiles: tiles, locate: locate, panel: panel, syncLegend: syncLegend,
    decodeGeometry: decodeGeometry, esc: esc
  };
})();
