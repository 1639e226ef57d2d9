"""Telling people by mail: `mail` sends notices over SMTP, `approvers` tells approvers of
the bookings waiting for them (at once, or in digests)."""
