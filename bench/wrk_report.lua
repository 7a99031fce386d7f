-- wrk reporter: one machine-readable line with requests/s and latency percentiles (ms).
done = function(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format(
    'JSON {"requests": %d, "rps": %.1f, "p50_ms": %.2f, "p95_ms": %.2f, "p99_ms": %.2f, ' ..
    '"errors": %d, "non2xx": %d}\n',
    summary.requests, summary.requests / s,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
