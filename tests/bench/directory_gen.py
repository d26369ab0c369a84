#!/usr/bin/env python3
"""Writes a directory CSV of N accounts spread over departments 13 levels deep (root + 12).

    directory_gen.py DOMAIN N > file.csv

Twenty top-level branches, each a chain of 12 levels; account i sits at level 1 + i % 12 of
branch i % 20, so every level holds accounts. Display names mix Chinese and Latin names (the
search benchmark searches both), every row has a title, level and phone, a few are disabled.
"""
import sys

SURNAMES = "王李张刘陈杨黄赵吴周"
GIVEN = "伟芳娜敏静丽强磊军洋"


def main() -> None:
    domain, n = sys.argv[1], int(sys.argv[2])
    out = sys.stdout
    out.write("address,displayName,department,title,employeeLevel,phone,quotaMB,maySendExternal,enabled\r\n")
    for i in range(n):
        branch = i % 20
        depth = 1 + (i // 20) % 12
        path = "/".join(f"B{branch}-L{k}" for k in range(1, depth + 1))
        name = SURNAMES[i % 10] + GIVEN[(i // 10) % 10] + str(i) if i % 2 else f"User {i:06d}"
        out.write(f"u{i:06d}@{domain},{name},{path},Staff {i % 7},P{i % 9},+86 10 {i:08d},1024,"
                  f"{'false' if i % 50 == 0 else 'true'},{'false' if i % 97 == 0 else 'true'}\r\n")


if __name__ == "__main__":
    main()
