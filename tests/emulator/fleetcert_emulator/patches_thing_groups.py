"""Static thing groups: fidelity patches over moto's IoT thing groups.

Each patch cites the API Reference page it follows
(https://docs.aws.amazon.com/iot/latest/apireference/API_<Operation>.html)
or the Developer Guide's "Static thing groups"
(https://docs.aws.amazon.com/iot/latest/developerguide/thing-groups.html).
moto ignores CreateThingGroup's tags, crashes on an unknown parent, answers
InvalidRequestException for an unknown group or thing ARN, has no 10-group
limit, no expectedVersion on DeleteThingGroup, no pagination, and keeps a
deleted thing in its groups.
"""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.iot import models as iot_models
from moto.iot.exceptions import InvalidRequestException, ResourceNotFoundException, VersionConflictException
from moto.iot.responses import IoTResponse

from .patches_iot import _page, _store_tags, _tags

IoTBackend = iot_models.IoTBackend

# "You can add a thing to a maximum of 10 groups" (thing-groups.html; also
# AddThingToThingGroup, overrideDynamicGroups: "when 10-group limit is reached")
MAX_GROUPS_PER_THING = 10
# ListThingsInThingGroup / ListThingGroups: maxResults 1..250 (RegistryMaxResults);
# AWS documents no default page size, 25 is ours.
DEFAULT_PAGE = 25

_orig_create_thing_group = IoTResponse.create_thing_group
_orig_delete_thing = IoTBackend.delete_thing


def _group_named(b, name: str):
    for group in b.thing_groups.values():
        if group.thing_group_name == name:
            return group
    return None


def create_thing_group(self):
    """CreateThingGroup: tags "Metadata which can be used to manage the thing
    group"; parentGroupName must name a group (moto raised an internal error);
    "If the ThingGroup that you create has the exact same attributes as an
    existing ThingGroup, you will get a 200 success response" (moto compared
    no properties, None, with its stored {}, and refused)."""
    b = self.iot_backend
    parent = self._get_param("parentGroupName")
    if parent and _group_named(b, parent) is None:
        raise ResourceNotFoundException(f"Parent thing group {parent} does not exist.")
    existing = _group_named(b, self._get_param("thingGroupName"))
    if existing is not None and (self._get_param("thingGroupProperties") or {}) == existing.thing_group_properties:
        return ActionResult({"thingGroupName": existing.thing_group_name, "thingGroupArn": existing.arn,
                             "thingGroupId": existing.thing_group_id})
    result = _orig_create_thing_group(self)
    group = _group_named(b, self._get_param("thingGroupName"))
    _store_tags(b, group.arn, self._get_param("tags"))
    return result


def delete_thing_group(self):
    """DeleteThingGroup: expectedVersion "The expected version of the thing
    group to delete" (VersionConflictException in its error list); deleting
    a group that does not exist succeeds (kept from moto); its tags go too."""
    b = self.iot_backend
    name = self._get_param("thingGroupName")
    group = _group_named(b, name)
    expected = self._get_param("expectedVersion")
    if group is not None and expected is not None and int(expected) != group.version:
        raise VersionConflictException(name)
    b.delete_thing_group(thing_group_name=name)
    if group is not None and group.arn not in b.thing_groups:
        _tags(b).pop(group.arn, None)
    return EmptyResult()


def _resolve(b, group_name, group_arn, thing_name, thing_arn):
    """(group, thing) from names or ARNs; either unknown -> ResourceNotFoundException
    ("The specified resource does not exist", both operations' error lists)."""
    if group_name is None and group_arn is None:
        raise InvalidRequestException("Specify thingGroupName or thingGroupArn.")
    if thing_name is None and thing_arn is None:
        raise InvalidRequestException("Specify thingName or thingArn.")
    group = _group_named(b, group_name) if group_name is not None else b.thing_groups.get(group_arn)
    if group is None or (group_arn is not None and group.arn != group_arn):
        raise ResourceNotFoundException(f"Thing group {group_name or group_arn} does not exist.")
    thing = b.things.get(thing_arn) if thing_arn is not None else next(
        (t for t in b.things.values() if t.thing_name == thing_name), None)
    if thing is None or (thing_name is not None and thing.thing_name != thing_name):
        raise ResourceNotFoundException(f"Thing {thing_name or thing_arn} does not exist.")
    return group, thing


def _group_params(self):
    return (self._get_param("thingGroupName"), self._get_param("thingGroupArn"),
            self._get_param("thingName"), self._get_param("thingArn"))


def add_thing_to_thing_group(self):
    """AddThingToThingGroup by name or ARN; adding it again is a no-op (kept
    from moto); an 11th group is refused (InvalidRequestException, our message)."""
    b = self.iot_backend
    group, thing = _resolve(b, *_group_params(self))
    if thing.arn in group.things:
        return EmptyResult()
    count = sum(1 for g in b.thing_groups.values() if thing.arn in g.things)
    if count >= MAX_GROUPS_PER_THING:
        raise InvalidRequestException(
            f"Thing {thing.thing_name} already belongs to {MAX_GROUPS_PER_THING} thing groups, the maximum.")
    group.things[thing.arn] = thing
    return EmptyResult()


def remove_thing_from_thing_group(self):
    """RemoveThingFromThingGroup by name or ARN; a thing not in the group is a no-op."""
    group, thing = _resolve(self.iot_backend, *_group_params(self))
    group.things.pop(thing.arn, None)
    return EmptyResult()


def _descendants(b, name: str) -> list:
    children = [g for g in b.thing_groups.values() if g.parent_group_name == name]
    out = list(children)
    for child in children:
        out += _descendants(b, child.thing_group_name)
    return out


def list_things_in_thing_group(self):
    """ListThingsInThingGroup: recursive "When true, list things in this
    thing group and in all child groups as well"; maxResults / nextToken."""
    b = self.iot_backend
    group = b.describe_thing_group(self._get_param("thingGroupName"))
    groups = [group] + (_descendants(b, group.thing_group_name) if self._get_bool_param("recursive", False) else [])
    names = list(dict.fromkeys(t.thing_name for g in groups for t in g.things.values()))
    page, nxt = _page(names, self._get_param("maxResults"), self._get_param("nextToken"), DEFAULT_PAGE)
    return ActionResult({"things": page, "nextToken": nxt} if nxt else {"things": page})


def list_thing_groups(self):
    """ListThingGroups: every group, or parentGroup's children ("A filter that
    limits the results to those with the specified parent group"; recursive
    "If true, return child groups as well"); namePrefixFilter; paginated."""
    b = self.iot_backend
    parent, prefix = self._get_param("parentGroup"), self._get_param("namePrefixFilter") or ""
    if parent is None:
        groups = list(b.thing_groups.values())
    elif _group_named(b, parent) is None:
        raise ResourceNotFoundException(f"Thing group {parent} does not exist.")
    elif self._get_bool_param("recursive", False):
        groups = _descendants(b, parent)
    else:
        groups = [g for g in b.thing_groups.values() if g.parent_group_name == parent]
    listed = [{"groupName": g.thing_group_name, "groupArn": g.arn}
              for g in groups if g.thing_group_name.startswith(prefix)]
    page, nxt = _page(listed, self._get_param("maxResults"), self._get_param("nextToken"), DEFAULT_PAGE)
    return ActionResult({"thingGroups": page, "nextToken": nxt} if nxt else {"thingGroups": page})


def _delete_thing(self, thing_name: str) -> None:
    """A deleted thing leaves its thing groups (moto kept it listed in them)."""
    arn = self.describe_thing(thing_name).arn
    _orig_delete_thing(self, thing_name)
    for group in self.thing_groups.values():
        group.things.pop(arn, None)


def apply() -> None:
    IoTBackend.delete_thing = _delete_thing
    for fn in (create_thing_group, delete_thing_group, add_thing_to_thing_group,
               remove_thing_from_thing_group, list_things_in_thing_group, list_thing_groups):
        setattr(IoTResponse, fn.__name__, fn)
