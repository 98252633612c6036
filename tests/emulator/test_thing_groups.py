"""Static thing groups (patches_thing_groups.py)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def things(iot, *names):
    return [iot.create_thing(thingName=n)["thingArn"] for n in names]


def test_create_thing_group_with_tags_and_describe(iot):
    made = iot.create_thing_group(thingGroupName="fleet-a", tags=[{"Key": "fleet", "Value": "a"}],
                                  thingGroupProperties={"thingGroupDescription": "rotation targets"})
    assert made["thingGroupArn"].endswith(":thinggroup/fleet-a")
    d = iot.describe_thing_group(thingGroupName="fleet-a")
    assert d["thingGroupArn"] == made["thingGroupArn"] and d["thingGroupId"] == made["thingGroupId"]
    assert d["version"] == 1 and d["thingGroupProperties"]["thingGroupDescription"] == "rotation targets"
    assert "creationDate" in d["thingGroupMetadata"]
    tags = iot.list_tags_for_resource(resourceArn=made["thingGroupArn"])["tags"]
    assert tags == [{"Key": "fleet", "Value": "a"}]
    iot.tag_resource(resourceArn=made["thingGroupArn"], tags=[{"Key": "owner", "Value": "ops"}])
    keys = {t["Key"] for t in iot.list_tags_for_resource(resourceArn=made["thingGroupArn"])["tags"]}
    assert keys == {"fleet", "owner"}


def test_create_thing_group_again_with_same_properties_returns_it(iot):
    first = iot.create_thing_group(thingGroupName="g")
    assert iot.create_thing_group(thingGroupName="g")["thingGroupId"] == first["thingGroupId"]


def test_create_thing_group_with_unknown_parent_is_not_found(iot):
    with pytest.raises(ClientError) as e:
        iot.create_thing_group(thingGroupName="child", parentGroupName="nobody")
    assert code(e.value) == "ResourceNotFoundException"


def test_tags_of_unknown_group_arn_are_not_found(iot, account):
    with pytest.raises(ClientError) as e:
        iot.list_tags_for_resource(resourceArn=f"arn:aws:iot:ap-northeast-1:{account}:thinggroup/none")
    assert code(e.value) == "ResourceNotFoundException"


def test_add_and_remove_by_name_and_by_arn(iot):
    group_arn = iot.create_thing_group(thingGroupName="g")["thingGroupArn"]
    a_arn, b_arn = things(iot, "a", "b")
    iot.add_thing_to_thing_group(thingGroupName="g", thingName="a")
    iot.add_thing_to_thing_group(thingGroupArn=group_arn, thingArn=b_arn)
    iot.add_thing_to_thing_group(thingGroupName="g", thingName="a")  # again: no-op
    assert sorted(iot.list_things_in_thing_group(thingGroupName="g")["things"]) == ["a", "b"]
    iot.remove_thing_from_thing_group(thingGroupArn=group_arn, thingArn=a_arn)
    iot.remove_thing_from_thing_group(thingGroupName="g", thingName="b")
    assert iot.list_things_in_thing_group(thingGroupName="g")["things"] == []


def test_add_with_unknown_group_or_thing_arn_is_not_found(iot, account):
    group_arn = iot.create_thing_group(thingGroupName="g")["thingGroupArn"]
    things(iot, "a")
    for kw in ({"thingGroupArn": group_arn + "x", "thingName": "a"},
               {"thingGroupArn": group_arn, "thingArn": f"arn:aws:iot:ap-northeast-1:{account}:thing/zz"},
               {"thingGroupName": "missing", "thingName": "a"}):
        with pytest.raises(ClientError) as e:
            iot.add_thing_to_thing_group(**kw)
        assert code(e.value) == "ResourceNotFoundException", kw


def test_a_thing_belongs_to_at_most_ten_groups(iot):
    things(iot, "a")
    for n in range(10):
        iot.create_thing_group(thingGroupName=f"g{n}")
        iot.add_thing_to_thing_group(thingGroupName=f"g{n}", thingName="a")
    iot.create_thing_group(thingGroupName="g10")
    with pytest.raises(ClientError) as e:
        iot.add_thing_to_thing_group(thingGroupName="g10", thingName="a")
    assert code(e.value) == "InvalidRequestException"
    assert iot.list_things_in_thing_group(thingGroupName="g10")["things"] == []


def test_list_things_in_thing_group_pages(iot):
    iot.create_thing_group(thingGroupName="g")
    names = [f"t{n:02d}" for n in range(7)]
    things(iot, *names)
    for n in names:
        iot.add_thing_to_thing_group(thingGroupName="g", thingName=n)
    seen, token = [], None
    while True:
        page = iot.list_things_in_thing_group(thingGroupName="g", maxResults=3, **({"nextToken": token} if token else {}))
        assert len(page["things"]) <= 3
        seen += page["things"]
        token = page.get("nextToken")
        if not token:
            break
    assert seen == names


def test_list_things_in_thing_group_recursive_includes_child_groups(iot):
    iot.create_thing_group(thingGroupName="parent")
    iot.create_thing_group(thingGroupName="child", parentGroupName="parent")
    things(iot, "p", "c")
    iot.add_thing_to_thing_group(thingGroupName="parent", thingName="p")
    iot.add_thing_to_thing_group(thingGroupName="child", thingName="c")
    assert iot.list_things_in_thing_group(thingGroupName="parent")["things"] == ["p"]
    assert sorted(iot.list_things_in_thing_group(thingGroupName="parent", recursive=True)["things"]) == ["c", "p"]


def test_list_thing_groups_filters_and_pages(iot):
    iot.create_thing_group(thingGroupName="root")
    for n in range(3):
        iot.create_thing_group(thingGroupName=f"kid{n}", parentGroupName="root")
    iot.create_thing_group(thingGroupName="grandkid", parentGroupName="kid0")
    everything = iot.list_thing_groups(maxResults=250)["thingGroups"]
    assert {g["groupName"] for g in everything} == {"root", "kid0", "kid1", "kid2", "grandkid"}
    direct = iot.list_thing_groups(parentGroup="root")["thingGroups"]
    assert {g["groupName"] for g in direct} == {"kid0", "kid1", "kid2"}
    deep = iot.list_thing_groups(parentGroup="root", recursive=True)["thingGroups"]
    assert {g["groupName"] for g in deep} == {"kid0", "kid1", "kid2", "grandkid"}
    assert [g["groupName"] for g in iot.list_thing_groups(namePrefixFilter="grand")["thingGroups"]] == ["grandkid"]
    first = iot.list_thing_groups(maxResults=2)
    assert len(first["thingGroups"]) == 2 and first["nextToken"]
    rest = iot.list_thing_groups(maxResults=250, nextToken=first["nextToken"])["thingGroups"]
    assert len(rest) == 3


def test_delete_thing_group_checks_expected_version(iot):
    iot.create_thing_group(thingGroupName="g")
    with pytest.raises(ClientError) as e:
        iot.delete_thing_group(thingGroupName="g", expectedVersion=7)
    assert code(e.value) == "VersionConflictException"
    iot.delete_thing_group(thingGroupName="g", expectedVersion=1)
    with pytest.raises(ClientError) as e:
        iot.describe_thing_group(thingGroupName="g")
    assert code(e.value) == "ResourceNotFoundException"
    iot.delete_thing_group(thingGroupName="g")  # gone already: success


def test_a_deleted_thing_leaves_its_groups(iot):
    iot.create_thing_group(thingGroupName="g")
    things(iot, "a")
    iot.add_thing_to_thing_group(thingGroupName="g", thingName="a")
    iot.delete_thing(thingName="a")
    assert iot.list_things_in_thing_group(thingGroupName="g")["things"] == []
