#!/bin/bash
# Runs once, after the influxdb:2.7 image's first-start setup (DOCKER_INFLUXDB_INIT_MODE=setup), with the influx CLI
# configured with the admin token. Makes the bucket readable by InfluxQL (DBRP mapping: database "thonminh",
# retention policy "autogen") and creates the v1 users the stack uses, with passwords from .env.
set -euo pipefail

org="$DOCKER_INFLUXDB_INIT_ORG"
bucket_id="$DOCKER_INFLUXDB_INIT_BUCKET_ID"

influx v1 dbrp create --org "$org" --bucket-id "$bucket_id" --db "$INFLUXDB_DATABASE" --rp autogen --default

# the criteria service's hourly rollups live in their own bucket, mapped as retention policy thonminh_1h
rollup_id="$(influx bucket create --org "$org" --name "${DOCKER_INFLUXDB_INIT_BUCKET}_1h" --retention 0 --hide-headers | awk '{print $1}')"
influx v1 dbrp create --org "$org" --bucket-id "$rollup_id" --db "$INFLUXDB_DATABASE" --rp thonminh_1h

# the criteria service's display copies for Grafana, its verification and its verdicts (docs/evidence.md,
# docs/dashboards.md), as thonminh_verified
verified_id="$(influx bucket create --org "$org" --name "${DOCKER_INFLUXDB_INIT_BUCKET}_verified" --retention 40d --hide-headers | awk '{print $1}')"
influx v1 dbrp create --org "$org" --bucket-id "$verified_id" --db "$INFLUXDB_DATABASE" --rp thonminh_verified

# Grafana reads; the criteria service reads raw data and writes rollups and the manual indicators (into the main
# bucket, beside the gateways' data); gateways only write raw data.
influx v1 auth create --org "$org" --username "$INFLUXDB_GRAFANA_USER" --password "$INFLUXDB_GRAFANA_PASSWORD" \
  --read-bucket "$bucket_id" --read-bucket "$rollup_id" --read-bucket "$verified_id"
influx v1 auth create --org "$org" --username "$INFLUXDB_CRITERIA_USER" --password "$INFLUXDB_CRITERIA_PASSWORD" \
  --read-bucket "$bucket_id" --read-bucket "$rollup_id" --read-bucket "$verified_id" --write-bucket "$bucket_id" \
  --write-bucket "$rollup_id" --write-bucket "$verified_id"
influx v1 auth create --org "$org" --username "$INFLUXDB_GATEWAY_USER" --password "$INFLUXDB_GATEWAY_PASSWORD" \
  --write-bucket "$bucket_id"
