"""Checks on a zip archive that someone sent us (an OFD document, an .xlsx import) before anything
reads it: zip bombs and entry names that would escape a folder when unpacked.

One function, `check_zip`, for every caller (cases.files for OFD uploads; catalog.excel's .xlsx checks
should call it too). It reads the central directory, refuses

- more than `max_entries` entries (`zip_too_many_entries`),
- a total uncompressed size above `max_total` (`zip_too_large`),
- an entry that expands more than `max_ratio` times its compressed size once it is past 1 MiB, or an
  archive that does so as a whole (`zip_ratio_too_high`) — a 1 MB zip unpacking to 1 GiB;
- an entry name that is absolute (`/etc/x`, `C:x`), climbs (`..`), uses backslashes, holds control
  characters, or repeats another entry's name (`zip_bad_entry_name`),
- encrypted entries and unknown compression methods (`zip_damaged`),

and then, with `verify=True`, decompresses each entry in bounded chunks and checks its CRC, so that
the sizes declared in the directory are the sizes there are (zipfile never hands out more than the
declared size; a stream that would expand further fails its CRC) (`zip_damaged`). Nothing is written
to disk.
"""

from __future__ import annotations

import unicodedata
import zipfile

from .errors import ValidationError

MAX_ENTRIES = 10_000
MAX_TOTAL = 300 * 1024 * 1024
MAX_RATIO = 100
RATIO_FLOOR = 1024 * 1024  # small entries (XML, a blank page) legitimately compress 1000:1
CHUNK = 1024 * 1024


def _fail(message: str, code: str, field: str | None) -> ValidationError:
    return ValidationError(message, code=code, field=field)


def bad_entry_name(name: str) -> bool:
    """True for a name that would not stay inside the folder it is unpacked into, or is ambiguous."""
    if not name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    if any(unicodedata.category(c)[0] == "C" for c in name):
        return True
    parts = name.rstrip("/").split("/")
    return any(p in ("", ".", "..") for p in parts)


def check_zip(fileobj, *, max_total: int = MAX_TOTAL, max_entries: int = MAX_ENTRIES, max_ratio: int = MAX_RATIO,
              verify: bool = True, field: str | None = "file", label: str = "压缩文件") -> list[zipfile.ZipInfo]:
    """Refuse an unsafe archive (ValidationError with the codes in the module's docstring); return its
    entries. `fileobj` is a seekable binary file; it is left at position 0."""
    try:
        fileobj.seek(0)
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise _fail(f"{label}已损坏,无法打开", "zip_damaged", field) from None
    try:
        infos = zf.infolist()
        if len(infos) > max_entries:
            raise _fail(f"{label}包含 {len(infos)} 个文件,超过 {max_entries} 个的上限", "zip_too_many_entries", field)
        seen = set()
        total = compressed = 0
        for info in infos:
            name = info.filename
            if bad_entry_name(name) or name in seen:
                shown = name[:60].encode("unicode_escape").decode("ascii") if name else "(空)"
                raise _fail(f"{label}中的文件名“{shown}”不安全(不得是绝对路径、含“..”、反斜杠或重复),已拒收",
                            "zip_bad_entry_name", field)
            seen.add(name)
            if info.flag_bits & 0x1:
                raise _fail(f"{label}中有加密的文件,请上传未加密的文件", "zip_damaged", field)
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise _fail(f"{label}使用了不支持的压缩方式", "zip_damaged", field)
            total += info.file_size
            compressed += info.compress_size
            if total > max_total:
                raise _fail(f"{label}解压后超过 {max_total // 1024 // 1024} MB,已拒收", "zip_too_large", field)
            if info.file_size > RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
                raise _fail(f"{label}的压缩比异常(解压后超过压缩前的 {max_ratio} 倍),疑似“压缩炸弹”,已拒收",
                            "zip_ratio_too_high", field)
        if total > RATIO_FLOOR and total > max_ratio * max(compressed, 1):
            raise _fail(f"{label}的压缩比异常(解压后超过压缩前的 {max_ratio} 倍),疑似“压缩炸弹”,已拒收",
                        "zip_ratio_too_high", field)
        if verify:
            for info in infos:
                if info.is_dir():
                    continue
                with zf.open(info) as entry:  # reads at most file_size bytes, then checks the CRC
                    while entry.read(CHUNK):
                        pass
    except ValidationError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError):
        raise _fail(f"{label}已损坏(内容与目录不符),无法打开", "zip_damaged", field) from None
    finally:
        zf.close()
        fileobj.seek(0)
    return infos
