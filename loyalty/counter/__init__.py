"""The counter tablet: a page for store staff that works a card through the terminal API
(the one source of rules), and its pairing with a store through a one-time code."""
