"""ADA's controller: p moves by the images seen over ada_kimg thousand, towards keeping the mean
sign of D's outputs on the reals at the target, clamped to [0, 1]; its state round-trips."""

import torch

from ganforge.augment.ada import AdaController
from ganforge.augment.config import AugmentConfig


def test_p_rises_while_d_is_too_sure_of_the_reals_and_falls_otherwise():
    ada = AdaController(AugmentConfig(ada=True, ada_target=0.6, ada_kimg=1.0))
    ada.observe(torch.tensor([3.0, 2.0, 1.0, -1.0]), images=4)  # r_t = 0.5 < 0.6
    ada.observe(torch.tensor([3.0, 2.0, 1.0, 1.0]), images=4)  # together r_t = 0.75 > 0.6
    logged = ada.update()
    assert ada.p == 8 / 1000 and float(logged["ada_rt"]) == 0.75
    ada.observe(torch.tensor([-1.0, -1.0]), images=2)
    ada.update()
    assert abs(ada.p - 6 / 1000) < 1e-12
    for _ in range(10):
        ada.observe(torch.tensor([-1.0] * 100), images=100)
        ada.update()
    assert ada.p == 0.0  # clamped


def test_the_state_round_trips_mid_interval():
    cfg = AugmentConfig(ada=True, ada_p=0.25)
    a = AdaController(cfg)
    a.observe(torch.tensor([1.0, -1.0, 1.0]), images=3)
    b = AdaController(cfg)
    b.load_state_dict(a.state_dict(), torch.device("cpu"))
    assert b.p == 0.25 and b.update().keys() == a.update().keys() and a.p == b.p
