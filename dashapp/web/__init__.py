"""HTTP: the JSON API and its OpenAPI document, uploads, exports, security headers, compression."""
