"""Clients of the two upstream APIs, over one pooled httpx client each."""
