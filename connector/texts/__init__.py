"""What people write: sentiment and intent of replies, emails, cases and event texts.

Pure models over plain data (no store, no client, no I/O besides reading package data):
``clean`` (quoted history and signatures off), ``sentiment`` (per message), ``evaluate``
(macro-F1 beside the lexicon), ``training`` (fits the shipped default from public rated text).
"""
