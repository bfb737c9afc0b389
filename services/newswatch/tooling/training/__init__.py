"""Training and evaluation of the event classifier: labelled data (``data``), scores and threshold choice
(``evaluate``), reproducible fine-tuning into an artefact (``train``) and their commands (``main``:
``newswatch train``, ``newswatch eval``). Needs torch and transformers; serving never imports it.
"""

__all__: list[str] = []
