"""API tokens: hashed, named, expiring, revocable and optionally limited to channels."""
