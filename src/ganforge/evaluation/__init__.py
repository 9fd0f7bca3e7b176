"""Scoring generated samples: which extractors and real-data references a dataset gets is
chosen here from the dataset's kind (`evaluator.EVALUATORS`), never by the stages. This file
imports nothing."""
