"""What orders tell (issue 24): order risk, fulfilment trending the wrong way, recommendations.

Each model is a pure function of plain frames and its settings, no store, no client, no I/O:

- :mod:`connector.orders_intel.risk`: a 0-100 risk score per Order with its reasons
  (scikit-learn IsolationForest; a gradient-boosted classifier once orders carry labels);
- :mod:`connector.orders_intel.fulfilment`: per Account or Contact, a CUSUM over delivery days
  against the person's own baseline and a window test of late, cancelled and returned orders,
  a flag with reasons;
- :mod:`connector.orders_intel.recommend`: item-item co-purchase recommendations with a why,
  beside a popularity baseline;
- :mod:`connector.orders_intel.evaluate`: the figures each is judged by (precision and recall
  at the flagged share, time to detection, hit rate and NDCG at k on a time split).
"""

from __future__ import annotations
