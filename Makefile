# onemap — `make demo` sets everything up and serves; `make test` runs the suite.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV   ?= .venv
PY     := $(VENV)/bin/python
ONEMAP := $(VENV)/bin/onemap
PORT   ?= 5000
export ONEMAP_PORT ?= $(PORT)

.PHONY: help demo test venv service-user system-deps db data publish maps qgis-project serve lint bench bench-maps bench-cold-tiles bench-soak clean stop cluster-demo cluster-down bench-cluster bench-10m

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: publish maps service-user ## set up everything (venv, PostGIS, data, API config, maps) and serve
	@echo "One Map site:  file://$(CURDIR)/site/index.html"
	@echo "OGC API:       http://127.0.0.1:$(PORT)/collections"
	$(ONEMAP) serve --port $(PORT)

test: system-deps venv service-user ## run the test suite (starts the project's PostGIS and pygeoapi itself)
	$(PY) -m pytest -q

system-deps: ## install PostgreSQL/PostGIS, GDAL, Chromium, QGIS, PgBouncer, HAProxy from Debian when missing (root)
	@scripts/system-deps chromium qgis pgbouncer haproxy

service-user: venv ## as root: the system user the server drops to, able to reach the venv's Python
	@scripts/service-user $(PY)

venv: $(VENV)/.installed ## create the Python >= 3.12 virtualenv with onemap installed

$(VENV)/.installed: pyproject.toml
	@py=$$(scripts/find-python) || exit 1; \
	  [ -x $(PY) ] || $$py -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@# byte-compile every module once: where PYTHONDONTWRITEBYTECODE is set (or an installer
	@# skipped it) each command compiled ~900 modules at start, 2.4 s (bench/QUICKSTART.md);
	@# a few files some packages ship for other Pythons fail to compile, hence the || true
	@$(PY) -m compileall -q -j 0 onemap "$$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')" >/dev/null || true
	@touch $@

db: system-deps venv ## start the project's PostGIS cluster (.onemap/, port 55432) and build the schema
	$(ONEMAP) db up

data: db ## prepare the demo data (etl/) and load every layer
	$(ONEMAP) load-demo

publish: data ## generate pygeoapi.yml from layers/ and the loaded data
	$(ONEMAP) publish

maps: data ## write the public web maps to site/
	$(ONEMAP) maps --output site

qgis-project: db ## write site/onemap.qgs (layers from the OGC API) and site/onemap-postgis.qgs
	$(ONEMAP) qgis-project --output site --url http://127.0.0.1:$(PORT)

serve: service-user ## serve the OGC APIs on 127.0.0.1:$(PORT)
	$(ONEMAP) serve --port $(PORT)

lint: venv ## ruff
	$(VENV)/bin/ruff check onemap etl tests bench

bench-setup: system-deps venv ## benchmark tools: wrk (Debian), tipg in its own venv, matplotlib, mapclassify
	@scripts/system-deps wrk
	$(PY) -m pip install -q -e '.[test,bench]'
	@[ -x bench/work/venv-tipg/bin/uvicorn ] || { py=$$(scripts/find-python) && \
	  $$py -m venv bench/work/venv-tipg && bench/work/venv-tipg/bin/pip install -q tipg==1.6.1 uvicorn; }

bench-load: db ## load: onemap vs ogr2ogr (COPY) vs to_postgis, roads/parcels/flood zones up to 1M (~8 min)
	$(PY) -m bench.load

bench-serve: bench-setup db ## items and tiles: onemap vs stock pygeoapi vs tipg (10k/100k/1M roads; 3 rounds, ~26 min)
	$(PY) -m bench.serve

bench-cold-tiles: bench-setup db ## cold tiles: every z10-z12 tile of the 1M roads rendered, p50/p95; cold vs cached req/s (~2 min after bench-serve)
	$(PY) -m bench.cold_tiles

bench-maps: bench-setup db ## map pages vs geopandas explore(): weight, first render in Chromium (~4 min)
	$(PY) -m bench.maps

bench-soak: venv db ## soak: 8 connections, 5 min of items, tiles and reports while road_condition is replaced every 30 s (SOAK_SECONDS=300)
	$(PY) -m bench.soak --duration $(or $(SOAK_SECONDS),300)

bench-10m: bench-setup db ## 10 million road segments: load (onemap/ogr2ogr/COPY limit), disk, items and tiles vs tipg (~25 min, ~30 GB of disk; ONEMAP_BENCH_SEGMENTS=200000 to try it small)
	$(PY) -m bench.ten_million
	$(PY) -m bench.report

bench: bench-setup db ## every benchmark (~40 min), then bench/RESULTS.md and bench/results/latest.json
	$(PY) -m bench.load
	$(PY) -m bench.serve
	$(PY) -m bench.cold_tiles
	$(PY) -m bench.maps
	$(PY) -m bench.report

cluster-demo: publish service-user ## primary + 2 replicas, PgBouncers, 2 API nodes, HAProxy on 55440 (docs/scale-out.md)
	$(ONEMAP) cluster up
	$(ONEMAP) cluster status
	@echo "OGC API through HAProxy: http://127.0.0.1:55440/collections  (make cluster-down stops it)"

cluster-down: ## stop the cluster rehearsal and delete the replicas' copies
	-$(ONEMAP) cluster down --purge

bench-cluster: bench-setup db ## requests/s through HAProxy, 1-2 nodes on 1-2 replicas; replication lag of a 1M load
	$(PY) -m bench.cluster

stop: ## stop the project's PostGIS cluster (and the cluster rehearsal)
	-$(ONEMAP) cluster down
	-$(ONEMAP) db down

clean: stop ## remove the venv, the cluster, generated data and the site
	rm -rf $(VENV) .onemap build site
