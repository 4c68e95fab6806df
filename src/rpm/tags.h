/* SPDX-License-Identifier: MIT */
#pragma once

/* RPM header tags and types used by slipway. Numbers are those of rpm's
 * include/rpm/rpmtag.h (rpm 4.18) and the LSB "Package File Format" chapter;
 * they are part of the file format and never change. */

enum {
        /* Region tags: the trailer entry that marks the immutable part. */
        RPMTAG_HEADERIMAGE = 61,
        RPMTAG_HEADERSIGNATURES = 62,
        RPMTAG_HEADERIMMUTABLE = 63,
        RPMTAG_HEADERI18NTABLE = 100,

        /* Signature header (HEADER_SIGBASE 256 + n, and the legacy 1000+) */
        RPMSIGTAG_DSA = 267,             /* RPMTAG_DSAHEADER: OpenPGP over the header (DSA, EdDSA) */
        RPMSIGTAG_RSA = 268,             /* RPMTAG_RSAHEADER: OpenPGP over the header (RSA) */
        RPMSIGTAG_SHA1 = 269,            /* hex SHA-1 of the main header */
        RPMSIGTAG_LONGSIZE = 270,
        RPMSIGTAG_LONGARCHIVESIZE = 271,
        RPMSIGTAG_SHA256 = 273,          /* hex SHA-256 of the main header */
        RPMSIGTAG_SIZE = 1000,           /* main header + payload size */
        RPMSIGTAG_MD5 = 1004,            /* MD5 of main header + payload */
        RPMSIGTAG_PGP = 1002,
        RPMSIGTAG_GPG = 1005,
        RPMSIGTAG_PAYLOADSIZE = 1007,    /* uncompressed payload size */
        RPMSIGTAG_RESERVEDSPACE = 1008,

        /* Main header */
        RPMTAG_NAME = 1000,
        RPMTAG_VERSION = 1001,
        RPMTAG_RELEASE = 1002,
        RPMTAG_EPOCH = 1003,
        RPMTAG_SUMMARY = 1004,
        RPMTAG_DESCRIPTION = 1005,
        RPMTAG_BUILDTIME = 1006,
        RPMTAG_BUILDHOST = 1007,
        RPMTAG_SIZE = 1009,
        RPMTAG_VENDOR = 1011,
        RPMTAG_LICENSE = 1014,
        RPMTAG_PACKAGER = 1015,
        RPMTAG_GROUP = 1016,
        RPMTAG_URL = 1020,
        RPMTAG_OS = 1021,
        RPMTAG_ARCH = 1022,
        RPMTAG_PREIN = 1023,
        RPMTAG_POSTIN = 1024,
        RPMTAG_PREUN = 1025,
        RPMTAG_POSTUN = 1026,
        RPMTAG_FILESIZES = 1028,
        RPMTAG_FILESTATES = 1029,        /* installed headers: RPMFILE_STATE_* per file */
        RPMTAG_FILEMODES = 1030,
        RPMTAG_FILERDEVS = 1033,
        RPMTAG_FILEMTIMES = 1034,
        RPMTAG_FILEDIGESTS = 1035,
        RPMTAG_FILELINKTOS = 1036,
        RPMTAG_FILEFLAGS = 1037,
        RPMTAG_FILEUSERNAME = 1039,
        RPMTAG_FILEGROUPNAME = 1040,
        RPMTAG_SOURCERPM = 1044,
        RPMTAG_FILEVERIFYFLAGS = 1045,
        RPMTAG_PROVIDENAME = 1047,
        RPMTAG_REQUIREFLAGS = 1048,
        RPMTAG_REQUIRENAME = 1049,
        RPMTAG_REQUIREVERSION = 1050,
        RPMTAG_CONFLICTFLAGS = 1053,
        RPMTAG_CONFLICTNAME = 1054,
        RPMTAG_CONFLICTVERSION = 1055,
        RPMTAG_RPMVERSION = 1064,
        RPMTAG_TRIGGERSCRIPTS = 1065,
        RPMTAG_TRIGGERNAME = 1066,
        RPMTAG_TRIGGERVERSION = 1067,
        RPMTAG_TRIGGERFLAGS = 1068,
        RPMTAG_TRIGGERINDEX = 1069,
        RPMTAG_PREINPROG = 1085,
        RPMTAG_POSTINPROG = 1086,
        RPMTAG_PREUNPROG = 1087,
        RPMTAG_POSTUNPROG = 1088,
        RPMTAG_OBSOLETENAME = 1090,
        RPMTAG_TRIGGERSCRIPTPROG = 1092,
        RPMTAG_FILEDEVICES = 1095,
        RPMTAG_FILEINODES = 1096,
        RPMTAG_FILELANGS = 1097,
        RPMTAG_PREFIXES = 1098,
        RPMTAG_INSTPREFIXES = 1099,
        RPMTAG_SOURCEPACKAGE = 1106,
        RPMTAG_PROVIDEFLAGS = 1112,
        RPMTAG_PROVIDEVERSION = 1113,
        RPMTAG_OBSOLETEFLAGS = 1114,
        RPMTAG_OBSOLETEVERSION = 1115,
        RPMTAG_DIRINDEXES = 1116,
        RPMTAG_BASENAMES = 1117,
        RPMTAG_DIRNAMES = 1118,
        RPMTAG_OPTFLAGS = 1122,
        RPMTAG_PAYLOADFORMAT = 1124,
        RPMTAG_PAYLOADCOMPRESSOR = 1125,
        RPMTAG_PAYLOADFLAGS = 1126,
        RPMTAG_PLATFORM = 1132,
        RPMTAG_FILECOLORS = 1140,
        RPMTAG_PRETRANS = 1151,
        RPMTAG_POSTTRANS = 1152,
        RPMTAG_PRETRANSPROG = 1153,
        RPMTAG_POSTTRANSPROG = 1154,
        RPMTAG_LONGFILESIZES = 5008,
        RPMTAG_LONGSIZE = 5009,
        RPMTAG_FILECAPS = 5010,
        RPMTAG_FILEDIGESTALGO = 5011,
        RPMTAG_PREINFLAGS = 5020,
        RPMTAG_POSTINFLAGS = 5021,
        RPMTAG_PREUNFLAGS = 5022,
        RPMTAG_POSTUNFLAGS = 5023,
        RPMTAG_PRETRANSFLAGS = 5024,
        RPMTAG_POSTTRANSFLAGS = 5025,
        RPMTAG_TRIGGERSCRIPTFLAGS = 5027,
        RPMTAG_ENCODING = 5062,
        RPMTAG_FILETRIGGERSCRIPTS = 5066,
        RPMTAG_FILETRIGGERSCRIPTPROG = 5067,
        RPMTAG_FILETRIGGERSCRIPTFLAGS = 5068,
        RPMTAG_FILETRIGGERNAME = 5069,
        RPMTAG_FILETRIGGERINDEX = 5070,
        RPMTAG_FILETRIGGERVERSION = 5071,
        RPMTAG_FILETRIGGERFLAGS = 5072,
        RPMTAG_TRANSFILETRIGGERSCRIPTS = 5076,
        RPMTAG_TRANSFILETRIGGERSCRIPTPROG = 5077,
        RPMTAG_TRANSFILETRIGGERSCRIPTFLAGS = 5078,
        RPMTAG_TRANSFILETRIGGERNAME = 5079,
        RPMTAG_TRANSFILETRIGGERINDEX = 5080,
        RPMTAG_TRANSFILETRIGGERVERSION = 5081,
        RPMTAG_TRANSFILETRIGGERFLAGS = 5082,
        RPMTAG_FILETRIGGERPRIORITIES = 5084,
        RPMTAG_TRANSFILETRIGGERPRIORITIES = 5085,
        RPMTAG_PAYLOADDIGEST = 5092,     /* hex digest of the compressed payload */
        RPMTAG_PAYLOADDIGESTALGO = 5093,
        RPMTAG_PAYLOADDIGESTALT = 5097,  /* hex digest of the uncompressed payload */
};

/* Header entry types (rpmtag.h rpmTagType_e). */
typedef enum RpmType {
        RPM_NULL_TYPE = 0,
        RPM_CHAR_TYPE = 1,
        RPM_INT8_TYPE = 2,
        RPM_INT16_TYPE = 3,
        RPM_INT32_TYPE = 4,
        RPM_INT64_TYPE = 5,
        RPM_STRING_TYPE = 6,
        RPM_BIN_TYPE = 7,
        RPM_STRING_ARRAY_TYPE = 8,
        RPM_I18NSTRING_TYPE = 9,
        _RPM_TYPE_MAX,
} RpmType;

/* Dependency flags (rpmds.h rpmsenseFlags). */
enum {
        RPMSENSE_LESS = 1u << 1,
        RPMSENSE_GREATER = 1u << 2,
        RPMSENSE_EQUAL = 1u << 3,
        RPMSENSE_POSTTRANS = 1u << 5,
        RPMSENSE_PRETRANS = 1u << 7,
        RPMSENSE_INTERP = 1u << 8,
        RPMSENSE_SCRIPT_PRE = 1u << 9,
        RPMSENSE_SCRIPT_POST = 1u << 10,
        RPMSENSE_SCRIPT_PREUN = 1u << 11,
        RPMSENSE_SCRIPT_POSTUN = 1u << 12,
        RPMSENSE_TRIGGERIN = 1u << 16,
        RPMSENSE_TRIGGERUN = 1u << 17,
        RPMSENSE_TRIGGERPOSTUN = 1u << 18,
        RPMSENSE_RPMLIB = 1u << 24,
        RPMSENSE_TRIGGERPREIN = 1u << 25,
        RPMSENSE_CONFIG = 1u << 28,
};

/* File flags (rpmfiles.h rpmfileAttrs). */
enum {
        RPMFILE_CONFIG = 1u << 0,
        RPMFILE_DOC = 1u << 1,
        RPMFILE_MISSINGOK = 1u << 3,
        RPMFILE_NOREPLACE = 1u << 4,
        RPMFILE_GHOST = 1u << 6,
        RPMFILE_LICENSE = 1u << 7,
};

#define PGPHASHALGO_SHA256 8

/* File states in an installed header's FILESTATES (rpmfiles.h rpmfileState). */
enum {
        RPMFILE_STATE_NORMAL = 0,
        RPMFILE_STATE_REPLACED = 1,
        RPMFILE_STATE_NOTINSTALLED = 2,
        RPMFILE_STATE_NETSHARED = 3,
        RPMFILE_STATE_WRONGCOLOR = 4,
};

/* Scriptlet flags (*FLAGS tags; rpm's lib/rpmscript.h rpmscriptFlags). */
enum {
        RPMSCRIPT_FLAG_EXPAND = 1u << 0,   /* -e: macros expanded at install time */
        RPMSCRIPT_FLAG_QFORMAT = 1u << 1,  /* -q: header query format expanded */
        RPMSCRIPT_FLAG_CRITICAL = 1u << 2, /* failure fails the package (%pre, %preun, %pretrans by default) */
};
