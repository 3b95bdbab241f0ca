"""Intercom webhook receiver and its durable spool.

The receiver (`tap-intercom-webhooks`) verifies and stores signed notifications in an
append-only spool; the tap's `webhook_notifications` stream reads that spool.
"""
