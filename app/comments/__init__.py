"""Comments on connected accounts' media: read live (stored as a fallback), replies, hide, delete."""
