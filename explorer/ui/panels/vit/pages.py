"""The pages of the ViT walk, one step each, bound to a :class:`~explorer.ui.panels.vit.state.ViTState`.

:mod:`.page` is what every page shares; :mod:`.patch_pages` holds steps 1–2
(the image cut into patches, read as a sequence), :mod:`.token_pages` steps
3–5 (linear embedding, position embeddings, class token) and
:mod:`.encoder_page` step 6 (the encoder's attention and the predictions) and
:mod:`.norms_page` step 7 (token norms beside the attention: the high-norm artefacts).
Beyond raw attention: :mod:`.relevance_page` step 8 (raw attention, rollout and
relevance side by side), :mod:`.ablation_page` step 9 (heads switched off, head
importance), :mod:`.heads_page` step 10 (every head at a glance) and
:mod:`.lens_page` step 11 (the logit lens).
"""

from explorer.ui.panels.vit.ablation_page import AblationPage
from explorer.ui.panels.vit.encoder_page import EncoderPage
from explorer.ui.panels.vit.heads_page import HeadsPage
from explorer.ui.panels.vit.lens_page import LensPage
from explorer.ui.panels.vit.norms_page import NormsPage
from explorer.ui.panels.vit.page import Page
from explorer.ui.panels.vit.patch_pages import GridPage, SequencePage
from explorer.ui.panels.vit.relevance_page import RelevancePage
from explorer.ui.panels.vit.token_pages import (
    ClassTokenPage,
    EmbeddingPage,
    PositionPage,
)

#: The pages in the order of the walk (step i is ``PAGES[i - 1]``).
PAGES = (GridPage, SequencePage, EmbeddingPage, PositionPage, ClassTokenPage, EncoderPage, NormsPage,
         RelevancePage, AblationPage, HeadsPage, LensPage)

__all__ = ["PAGES", "AblationPage", "ClassTokenPage", "EmbeddingPage", "EncoderPage", "GridPage", "HeadsPage",
           "LensPage", "NormsPage", "Page", "PositionPage", "RelevancePage", "SequencePage"]
