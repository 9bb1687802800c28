"""A development SMTP server that keeps what it receives and shows it on a web page.

``make run`` starts it and points Chorus's mail at it (``CHORUS_SMTP_HOST=127.0.0.1``,
``CHORUS_SMTP_PORT=8025``, ``CHORUS_SMTP_SECURITY=none``), so an invitation or a password
reset can be opened in the browser and its link clicked, instead of read from the worker's
log. It keeps the last few hundred mails in memory and forgets them when it stops.

    python -m services.mailcatcher --smtp-port 8025 --http-port 8026 --host 127.0.0.1
"""
