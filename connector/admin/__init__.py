"""Setting an org up for the connector: field deploy, permission sets and the permission checks
``doctor`` makes.

It sits over ``connector/salesforce/`` (whose port it calls) and beside the sync, whose streams
say which standard fields the integration user must be able to read; the SOQL it sends lives
here, as the Salesforce client's does in ``salesforce/``.
"""
