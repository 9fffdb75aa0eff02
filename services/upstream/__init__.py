"""Clients of the two upstream APIs (Mercado Pago, GoHighLevel), shared by the worker and
the reconciler: one place decides what a response means (http.py) and what a failure is
(errors.py); GoHighLevel calls pass a rate limiter shared by every worker pod."""
