-- sitroom 0007: imported map layers (图层) and their features, as GeoJSON in jsonb.
-- PostGIS is optional, so geometry is GeoJSON with a bounding box and a representative
-- point in plain columns: enough to cut a layer to the map view and to index by place.
CREATE TABLE map_layers (
    name          text PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    kind          text NOT NULL CHECK (kind IN ('districts', 'facilities', 'cameras',
                      'sensitive_areas', 'population', 'roads', 'rivers', 'gauges', 'other')),
    source_crs    text NOT NULL,
    feature_count integer NOT NULL CHECK (feature_count >= 0),
    imported_at   timestamptz NOT NULL DEFAULT now(),
    attribution   text NOT NULL DEFAULT '',
    synthetic     boolean NOT NULL DEFAULT false
);
CREATE INDEX map_layers_kind ON map_layers (kind);

CREATE TABLE map_features (
    layer    text NOT NULL REFERENCES map_layers (name) ON DELETE CASCADE,
    fid      text NOT NULL,
    seq      integer NOT NULL,  -- order in the imported file, kept on read
    kind     text NOT NULL,
    name     text NOT NULL DEFAULT '',
    props    jsonb NOT NULL DEFAULT '{}'::jsonb,
    geometry jsonb NOT NULL,
    min_lat  double precision NOT NULL,
    min_lon  double precision NOT NULL,
    max_lat  double precision NOT NULL,
    max_lon  double precision NOT NULL,
    lat      double precision NOT NULL,
    lon      double precision NOT NULL,
    PRIMARY KEY (layer, fid),
    CHECK (min_lat <= max_lat AND min_lon <= max_lon)
);
CREATE INDEX map_features_kind ON map_features (kind);
CREATE INDEX map_features_place ON map_features (lat, lon);
