"""Files uploaded by clients instead of hosted at a public URL: streamed to storage (a local directory or an
S3-compatible bucket), checked like URL media, used by publishing wherever a URL is, fetched by Instagram through
short-lived signed URLs, and deleted once published (unless kept) or after 7 days unused."""
