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

  function styler(spec) {
    return function (feature) {
      var c = featureColor(spec, feature.properties);
      return Object.assign({}, spec.style, { color: c, fillColor: c });
    };
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
    var props = layer.feature.properties;
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
    var group = L.geoJSON(null, Object.assign({
      style: styler(spec),
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, { pane: group.options.pane || "overlayPane" });
      }
    }, options));
    group.addData({ type: "FeatureCollection", features: features });
    group.options.attribution = attribution;
    if (interactive && spec.fields.length) {
      group.bindTooltip(function (l) { return tooltipText(spec, l); }, { sticky: true });
      group.bindPopup(function (l) { return popupHtml(spec, l); }, { maxWidth: 380, maxHeight: 360 });
      group.on("mouseover", function (e) { highlight(spec, e.layer); });
      group.on("mouseout", function (e) { group.resetStyle(e.layer); });
    }
    return group;
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
    layer: layer, panel: panel, syncLegend: syncLegend, decodeGeometry: decodeGeometry, esc: esc
  };
})();
