"""Monitoring: alert rules on monitored figures, their evaluation and notifications."""
