"""Google Wallet: loyalty passes for the cards.

`config` reads and checks the issuer and the service account; `passes` builds the class and
object resources; `client` talks to the Wallet REST API with retries; `services` marks passes
stale, pushes them and runs the periodic sync; `save_links` signs the "Add to Google Wallet"
links; `status` gathers what operators see; `views` and `admin` are the ways in.
"""
