"""Once-only at the application form (T15, T16): what the platform already has for this applicant.

- `from_licences`: the materials a current e-licence of the applicant fills (免提交); the service
  (`services._once_only`) decides it again at submission, this only tells the form.
- `offers`: materials the same applicant already gave in an earlier case (same material name, or
  the same proof), newest first. They are reused only with the applicant's consent (a ticked box,
  or `"reuse": true` in the API); the files are copied into new uploads of the same owner, since
  a file belongs to one case, and the material's note says where they came from.

Only the applicant's own UploadedFile rows are ever read or copied.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q

from bianmin.core.errors import NotFound
from bianmin.licences.selectors import satisfying

from . import clock, files
from .models import Applicant, CaseMaterial, CaseStatus, UploadedFile

MAX_REUSE_FILES = 10


@dataclass
class Offer:
    case_number: str
    material_name: str
    files: list[UploadedFile] = field(default_factory=list)

    @property
    def note(self) -> str:
        return f"经申请人同意,复用办件 {self.case_number} 中已提交的“{self.material_name}”"[:300]


def from_licences(applicant: Applicant, materials) -> dict:
    """{material id: Licence} for the materials a current licence of the applicant fills. One query."""
    held = satisfying(applicant, {m.satisfied_by for m in materials if m.satisfied_by}, clock.today())
    return {m.pk: held[m.satisfied_by] for m in materials if m.satisfied_by in held}


def offers(applicant: Applicant, materials, *, exclude_case_id: int | None = None) -> dict[int, Offer]:
    """{material id: Offer} from the applicant's earlier (submitted) cases. One query, whatever the
    number of materials: the newest earlier case that has files for a material of the same name or proof."""
    materials = list(materials)
    if not materials:
        return {}
    names = {m.name for m in materials}
    proofs = {m.proof_id for m in materials if m.proof_id}
    match = Q(case_material__name__in=names)
    if proofs:
        match |= Q(case_material__material__proof_id__in=proofs)
    rows = (UploadedFile.objects.filter(match, owner=applicant, case_material__state=CaseMaterial.State.PROVIDED)
            .exclude(case_material__case__status=CaseStatus.DRAFT)
            .select_related("case_material__case", "case_material__material")
            .order_by("-case_material__case_id", "case_material_id", "id")[:500])
    if exclude_case_id:
        rows = [f for f in rows if f.case_material.case_id != exclude_case_id]
    by_name: dict[str, Offer] = {}
    by_proof: dict[int, Offer] = {}
    for f in rows:
        cm = f.case_material
        for key, table in ((cm.name, by_name), (cm.material.proof_id if cm.material else None, by_proof)):
            if key is None:
                continue
            offer = table.get(key)
            if offer is None:
                table[key] = offer = Offer(case_number=cm.case.number or "", material_name=cm.name)
            if offer.case_number == (cm.case.number or "") and len(offer.files) < MAX_REUSE_FILES:
                offer.files.append(f)
    out = {}
    for m in materials:
        offer = by_name.get(m.name) or (by_proof.get(m.proof_id) if m.proof_id else None)
        if offer is not None and offer.files:
            out[m.pk] = offer
    return out


def copy_files(applicant: Applicant, offer: Offer, *, actor, stored: list) -> list[int]:
    """Copies of the offered files as new uploads of the same owner (a file belongs to one case).
    Appends the new rows to `stored` so that a rolled-back submission can remove the copies."""
    ids = []
    for f in offer.files:
        if f.owner_id != applicant.pk:  # never anyone else's file
            raise NotFound("找不到可复用的材料", code="file_not_found", field="materials")
        try:
            rel = files.copy_stored(f)
        except NotFound:
            raise NotFound("找不到可复用的材料", code="file_not_found", field="materials") from None
        record = UploadedFile.objects.create(owner=applicant, original_name=f.original_name, content_type=f.content_type,
                                             size=f.size, sha256=f.sha256, path=rel,
                                             uploaded_by=actor if getattr(actor, "pk", None) else None)
        stored.append(record)
        ids.append(record.pk)
    return ids
