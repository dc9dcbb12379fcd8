#!/usr/bin/env python3
"""Counts test results of one build directory for scripts/test.

Reads the GoogleTest XML files (one per test binary) and meson's testlog.json. A meson test
that failed without a GoogleTest failure to show for it (a crash, a sanitizer abort, a
timeout) counts as one failure of its own; a test that is not a GoogleTest binary (the netns
scripts) counts as one result. Prints "PASSED FAILED DETAIL".
"""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET

build = sys.argv[1]
passed = failed = 0
failed_names = []
gtest_failed_bins = set()
gtest_bins = set()

for path in glob.glob(os.path.join(build, "gtest-xml", "*.xml")):
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        continue  # a binary killed mid-write: meson's own result below accounts for it
    binary = os.path.splitext(os.path.basename(path))[0]
    gtest_bins.add(binary)
    for case in root.iter("testcase"):
        if case.get("result") == "skipped" or case.find("skipped") is not None:
            continue
        if case.find("failure") is not None:
            failed += 1
            failed_names.append(f"{case.get('classname')}.{case.get('name')}")
            gtest_failed_bins.add(binary)
        else:
            passed += 1

log = os.path.join(build, "meson-logs", "testlog.json")
if os.path.exists(log):
    with open(log) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            t = json.loads(line)
            binary = os.path.basename(t.get("command", [""])[0])
            if t.get("result") in ("OK", "EXPECTEDFAIL"):
                if binary not in gtest_bins:
                    passed += 1  # a script test (netns): one result of its own
                continue
            if t.get("result") == "SKIP":
                continue
            if binary not in gtest_failed_bins:
                failed += 1
                failed_names.append(f"{t.get('name')} ({t.get('result')})")
else:
    failed += 1
    failed_names.append("no meson test log")

print(passed, failed, ", ".join(failed_names[:10]) or "-")
