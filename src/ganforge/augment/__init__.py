"""Augmentation that reaches the discriminator, for small data and short budgets:
DiffAugment's differentiable ops applied to real and generated images alike (`ops`), and
adaptive augmentation (ADA), whose probability p follows how sure D is of the reals
(`ada`). `config` holds the variant's `augment:` block and imports no torch. This file
imports nothing."""
