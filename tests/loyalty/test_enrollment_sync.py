"""Enrollment by a Contact checkbox through the whole sync: localorg over HTTPS, the small seed."""

from __future__ import annotations

import shutil
from pathlib import Path

from localorg.org import LocalOrg, load_seed
from localorg.schema import FieldInfo
from localorg.server import Running
from tests.support import deployed_engine, localorg_settings

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"


def test_only_checked_contacts_get_a_standing(
    org: LocalOrg, localorg_server: Running, tmp_path: Path
) -> None:
    load_seed(org, "small", tmp_path / "seed")
    org.store.add_custom_field(
        "Contact", FieldInfo("L2L_Loyalty_Member__c", "boolean", custom=True, default=False)
    )
    buyers = [
        r[0]
        for r in org.store.execute(
            'SELECT DISTINCT "BillToContactId" FROM "Order" WHERE "BillToContactId" IS NOT NULL '
            'ORDER BY "BillToContactId" LIMIT 3'
        )
    ]
    assert len(buyers) == 3
    for contact in buyers:
        org.store.execute(
            'UPDATE "Contact" SET "L2L_Loyalty_Member__c" = 1 WHERE "Id" = ?', [contact]
        )
    models = tmp_path / "models"
    shutil.copytree(REPO_MODELS, models)
    loyalty = (models / "loyalty.yaml").read_text(encoding="utf-8")
    assert "    enrollment: buyers" in loyalty
    (models / "loyalty.yaml").write_text(
        loyalty.replace(
            "    enrollment: buyers",
            "    enrollment: field\n    enrollment_field: L2L_Loyalty_Member__c\n"
            "    # was: enrollment: buyers",
            1,
        ),
        encoding="utf-8",
    )
    engine = deployed_engine(localorg_settings(org, localorg_server, tmp_path, models_dir=models))
    report = engine.run()
    assert report.status == "succeeded", report.errors
    with_standing = {
        r[0]
        for r in org.store.execute(
            'SELECT "Id" FROM "Contact" WHERE "L2L_Points_Balance__c" IS NOT NULL'
        )
    }
    assert with_standing == set(buyers)
    assert report.models["loyalty"]["rewards"]["members"] == 3
