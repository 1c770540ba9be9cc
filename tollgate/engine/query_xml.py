"""The XML answers of AWS's query-protocol APIs (CloudFormation, Elastic Load Balancing) that the edge serves."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree


def add(parent: ElementTree.Element, tag: str, value: str) -> None:
    ElementTree.SubElement(parent, tag).text = value


def finished(root: ElementTree.Element, request_id: str) -> bytes:
    """A successful answer: the action's response with its ResponseMetadata."""
    add(ElementTree.SubElement(root, "ResponseMetadata"), "RequestId", request_id)
    return _xml(root)


def error_response(namespace: str, code: str, message: str, request_id: str) -> bytes:
    """An error as botocore's query parser reads it: the code and message a caller's ClientError carries."""
    root = ElementTree.Element("ErrorResponse", xmlns=namespace)
    detail = ElementTree.SubElement(root, "Error")
    add(detail, "Type", "Sender")
    add(detail, "Code", code)
    add(detail, "Message", message)
    add(root, "RequestId", request_id)
    return _xml(root)


def _xml(root: ElementTree.Element) -> bytes:
    document: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return document
