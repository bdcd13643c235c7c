"""The criteria service: uptime, outages and smart-village criteria verdicts with evidence, over HTTP."""
