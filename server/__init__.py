"""The criteria service: uptime, outages and smart-village criteria verdicts with evidence, over HTTP."""

#: where the API's routes are, under the service's address (the pages are under ``/pages``)
API_PREFIX = "/api/v1"
