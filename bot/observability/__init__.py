"""What an operator watches: Prometheus metrics, and the /metrics and /healthz endpoints that serve them."""
