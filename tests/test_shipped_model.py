"""The shipped pretrained model (src/coverhunter/pretrained/base/) and its card agree.

The card states four facts (serving/card.py): the weights' sha256, the parameter count, the front
end and the mAP on a small synthetic slice. Here they are measured again on the weights in the
repo, so a card cannot describe other weights, and weights cannot change without their card.
"""

import pytest

from coverhunter.persistence.model_folder import is_model_folder
from coverhunter.serving.card import CARD_FILE, facts_agree, measured_facts, stated_facts
from coverhunter.serving.ship import SHIPPED

pytestmark = pytest.mark.skipif(
    not is_model_folder(SHIPPED),
    reason=f"no model is shipped in {SHIPPED} (README: the pretraining corpus)",
)


def test_the_card_states_what_the_shipped_weights_measure():
    stated = stated_facts(SHIPPED / CARD_FILE)
    assert facts_agree(stated, measured_facts(SHIPPED)) == []
