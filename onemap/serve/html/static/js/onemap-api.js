/* Maps of the API's own pages: the page's GeoJSON (or the server's vector tiles) drawn
 * in the layer's colours, with the site's legend panel. No basemap: the pages make no
 * request off the server. Spec (from pygeoapi.yml, per collection):
 * {geometry, style: {field, color, weight, opacity, fill_opacity}, classes: [[value, color, label]]}. */
(function () {
  "use strict";
  var ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  function esc(t) { return String(t).replace(/[&<>"']/g, function (c) { return ESC[c]; }); }

  function colorOf(spec, props) {
    var field = spec.style.field;
    if (field && props) {
      for (var i = 0; i < spec.classes.length; i++) {
        if (spec.classes[i][0] === props[field]) return spec.classes[i][1];
      }
    }
    return spec.style.color;
  }

  var PLAIN = { geometry: "", style: { color: "#0b5cad", weight: 2, opacity: 0.9, fill_opacity: 0.3 }, classes: [] };
  function specOf(spec) { return spec && spec.style ? spec : PLAIN; }

  function styler(spec) {
    var line = /Line/.test(spec.geometry);
    return function (feature) {
      var c = colorOf(spec, feature.properties);
      return {
        color: line ? c : "#333", weight: line ? spec.style.weight : 1, opacity: spec.style.opacity,
        fillColor: c, fillOpacity: spec.style.fill_opacity
      };
    };
  }

  function legend(map, spec, title) {
    var control = L.control({ position: "bottomright" });
    control.onAdd = function () {
      var div = L.DomUtil.create("div", "onemap-panel onemap-legend");
      var kind = /Line/.test(spec.geometry) ? "line" : /Point/.test(spec.geometry) ? "point" : "polygon";
      var rows = spec.classes.length ? spec.classes : [[null, spec.style.color, title]];
      var html = "<section><h2>" + esc(title) + "</h2><ul>";
      rows.forEach(function (r) {
        var sw = kind === "polygon" ? "background:" + r[1] + ";border-color:" + r[1] : "background:" + r[1];
        html += '<li><span class="onemap-swatch onemap-swatch-' + kind + '" style="' + sw + '"></span>' + esc(r[2]) + "</li>";
      });
      div.innerHTML = html + "</ul></section>";
      return div;
    };
    control.addTo(map);
  }

  function newMap(id) {
    var map = L.map(id, { preferCanvas: true, attributionControl: true });
    map.attributionControl.setPrefix("");
    return map;
  }

  /* Features of a page (GeoJSON FeatureCollection or Feature) on the map in `id`. */
  function drawFeatures(id, geojson, spec, opts) {
    opts = opts || {};
    spec = specOf(spec);
    var map = newMap(id);
    var layer = L.geoJSON(geojson, {
      style: styler(spec),
      pointToLayer: function (f, latlng) {
        var s = styler(spec)(f);
        return L.circleMarker(latlng, Object.assign(s, { radius: 6, fillOpacity: 0.9, color: "#333" }));
      },
      onEachFeature: function (feature, l) {
        if (!opts.itemsPath || feature.id === undefined) return;
        var label = opts.titleField && feature.properties ? feature.properties[opts.titleField] : null;
        l.bindPopup('<a href="' + esc(opts.itemsPath + "/" + feature.id) + '">' + esc(label || feature.id) + "</a>");
      }
    }).addTo(map);
    var bounds = layer.getBounds();
    if (bounds.isValid()) map.fitBounds(bounds, { padding: [12, 12], maxZoom: 17 });
    else map.setView(opts.center || [-7.0, 110.42], 11);
    legend(map, spec, opts.title || "");
    window.onemapDrawn = layer.getLayers().length;
    return map;
  }

  /* The collection's vector tiles from this server (OGC API Tiles, WebMercatorQuad). */
  function drawTiles(id, url, layerName, spec, bbox, title) {
    spec = specOf(spec);
    var map = newMap(id);
    var style = styler(spec);
    var options = { rendererFactory: L.canvas.tile, interactive: false, vectorTileLayerStyles: {} };
    options.vectorTileLayerStyles[layerName] = function (props) {
      var s = style({ properties: props });
      s.fill = true;
      return s;
    };
    var tiles = L.vectorGrid.protobuf(url, options).addTo(map);
    tiles.on("load", function () { window.onemapDrawn = 1; });
    map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]]);
    legend(map, spec, title);
    return map;
  }

  window.onemapApi = { drawFeatures: drawFeatures, drawTiles: drawTiles };
})();
