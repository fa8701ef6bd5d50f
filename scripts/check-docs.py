#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
#
# Helper of scripts/check-docs.sh: check a kernel .rst file with plain
# docutils instead of a full Sphinx "make htmldocs".
#
#   check-docs.py files RST
#       print the source files named by the kernel-doc directives of RST
#   check-docs.py check --srctree DIR --sphinx-version V --expanded OUT RST
#       expand every kernel-doc directive with scripts/kernel-doc -rst, as
#       Documentation/sphinx/kerneldoc.py does, write the result to OUT and
#       parse it with docutils; exit 1 on any warning or error
#   check-docs.py toctree --srctree DIR RST
#       exit 1 unless a toctree in RST's directory lists RST
#
# RST paths are relative to the kernel tree (DIR).  Docutils does not know
# Sphinx's roles and directives (:c:func:, :ref:, .. c:function::, ...);
# the ones the kernel documentation uses are registered below as stand-ins
# that render their text and parse their bodies, so that markup errors
# inside kernel-doc output are still found.  Anything else unknown stays an
# error.
import argparse
import glob
import io
import os
import re
import subprocess
import sys

from docutils import nodes, utils
from docutils.core import publish_string
from docutils.parsers.rst import Directive, directives, roles

DIRECTIVE_RE = re.compile(r'^(\s*)\.\.\s+kernel-doc::\s*(\S+)\s*$')
OPTION_RE = re.compile(r'^:([\w-]+):(?:\s+(.*))?$')
LINENO_RE = re.compile(r'^\.\. LINENO ([0-9]+)$')


class KernelDocDirective:
    """One '.. kernel-doc::' block: where it is and what it asks for."""

    def __init__(self, first, last, indent, path, options):
        self.first = first		# index of the directive line
        self.last = last		# index after its last option line
        self.indent = indent
        self.path = path
        self.options = options


def find_directives(lines):
    found = []
    i = 0
    while i < len(lines):
        m = DIRECTIVE_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, path = m.group(1), m.group(2)
        options = {}
        j = i + 1
        while j < len(lines):
            line = lines[j]
            body = line.strip()
            if not body:
                break
            if len(line) - len(line.lstrip()) <= len(indent):
                break
            om = OPTION_RE.match(body)
            if not om:
                break
            options[om.group(1)] = (om.group(2) or '').strip()
            j += 1
        found.append(KernelDocDirective(i, j, indent, path, options))
        i = j
    return found


def kernel_doc_command(srctree, sphinx_version, d):
    """The command Documentation/sphinx/kerneldoc.py would run for @d."""
    cmd = [os.path.join(srctree, 'scripts/kernel-doc'), '-rst',
           '-enable-lineno', '-sphinx-version', sphinx_version]
    opts = dict(d.options)
    if 'functions' in opts:
        opts['identifiers'] = opts['functions']
    patterns = []
    if 'export' in opts:
        cmd.append('-export')
        patterns = opts['export'].split()
    elif 'internal' in opts:
        cmd.append('-internal')
        patterns = opts['internal'].split()
    elif 'doc' in opts:
        cmd += ['-function', opts['doc']]
    elif 'identifiers' in opts:
        idents = opts['identifiers'].split()
        if idents:
            for ident in idents:
                cmd += ['-function', ident]
        else:
            cmd.append('-no-doc-sections')
    for ident in opts.get('no-identifiers', '').split():
        cmd += ['-nosymbol', ident]
    for pattern in patterns:
        for f in sorted(glob.glob(os.path.join(srctree, pattern))):
            cmd += ['-export-file', f]
    cmd.append(os.path.join(srctree, d.path))
    return cmd


def expand(srctree, sphinx_version, rst_path, lines, errors):
    """@lines with every kernel-doc directive replaced by its output."""
    out = []
    pos = 0
    for d in find_directives(lines):
        out += lines[pos:d.first]
        pos = d.last
        unknown = set(d.options) - {'export', 'internal', 'doc',
                                    'identifiers', 'functions',
                                    'no-identifiers'}
        if unknown:
            errors.append('%s:%d: kernel-doc: unknown option(s) %s' %
                          (rst_path, d.first + 1, ', '.join(sorted(unknown))))
        cmd = kernel_doc_command(srctree, sphinx_version, d)
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=srctree)
        if p.returncode or p.stderr.strip():
            errors.append('%s:%d: %s (exit %d):\n%s' %
                          (rst_path, d.first + 1, ' '.join(cmd),
                           p.returncode, p.stderr.rstrip()))
        if not p.stdout.strip():
            errors.append('%s:%d: kernel-doc %s produced no documentation' %
                          (rst_path, d.first + 1, d.path))
        out.append('%s.. kernel-doc expansion: %s %s' %
                   (d.indent, d.path, ' '.join(
                       ':%s: %s' % kv for kv in d.options.items())))
        out.append('')
        for line in p.stdout.splitlines():
            if LINENO_RE.match(line):
                continue
            out.append(d.indent + line if line.strip() else '')
        out.append('')
    out += lines[pos:]
    return out


# Stand-ins for Sphinx markup ------------------------------------------------

def text_role(name, rawtext, text, lineno, inliner, options=None,
              content=None):
    """:c:func:`foo`, :ref:`title <label>`, ...: show the title or text."""
    m = re.match(r'^(.*?)\s*<[^<>]+>$', text, re.S)
    shown = m.group(1) if m and m.group(1) else text
    return [nodes.literal(rawtext, utils.unescape(shown))], []


SPHINX_ROLES = [
    # C domain, also reachable without the prefix (primary_domain = 'c')
    'c:func', 'c:type', 'c:struct', 'c:union', 'c:enum', 'c:enumerator',
    'c:macro', 'c:data', 'c:member', 'c:var', 'c:expr', 'c:texpr',
    'func', 'type', 'macro', 'data', 'member', 'enum', 'struct',
    # Sphinx standard roles
    'ref', 'doc', 'any', 'numref', 'term', 'download', 'file', 'samp',
    'kbd', 'command', 'program', 'option', 'envvar', 'menuselection',
    'guilabel', 'manpage',
]

C_OBJECT_OPTIONS = {
    name: directives.flag for name in (
        'noindex', 'no-index', 'noindexentry', 'no-index-entry',
        'nocontentsentry', 'no-contents-entry', 'no-typesetting',
        'single-line-parameter-list')
}


class CObjectDirective(Directive):
    """.. c:function:: and friends: the signature, then the parsed body."""
    required_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = dict(C_OBJECT_OPTIONS, name=directives.unchanged)

    def run(self):
        sig = nodes.paragraph('', '', nodes.literal('', self.arguments[0]))
        body = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, body)
        return [sig, body]


class NoArgumentDirective(Directive):
    """.. c:namespace-pop:: and similar: nothing to show."""
    optional_arguments = 1
    final_argument_whitespace = True

    def run(self):
        return []


class BodyDirective(Directive):
    """.. only::, .. seealso::, ...: parse the body, ignore the rest."""
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {'class': directives.unchanged, 'name': directives.unchanged}

    def run(self):
        body = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, body)
        return [body]


class LiteralBodyDirective(Directive):
    """.. code-block:: LANG: the body is a literal block."""
    optional_arguments = 1
    has_content = True
    option_spec = {'linenos': directives.flag,
                   'lineno-start': directives.nonnegative_int,
                   'emphasize-lines': directives.unchanged,
                   'caption': directives.unchanged,
                   'name': directives.unchanged,
                   'dedent': directives.unchanged,
                   'force': directives.flag}

    def run(self):
        text = '\n'.join(self.content)
        return [nodes.literal_block(text, text)]


class TocTreeDirective(Directive):
    """.. toctree::: the entries are document names, not markup."""
    has_content = True
    option_spec = {name: directives.unchanged for name in (
        'maxdepth', 'caption', 'name', 'glob', 'hidden', 'titlesonly',
        'includehidden', 'numbered', 'reversed')}

    def run(self):
        return []


class UnexpandedKernelDoc(Directive):
    """A kernel-doc directive that expand() missed is a bug of this tool."""
    required_arguments = 1
    has_content = True
    option_spec = {name: directives.unchanged for name in (
        'export', 'internal', 'doc', 'identifiers', 'functions',
        'no-identifiers')}

    def run(self):
        return [self.state_machine.reporter.error(
            'kernel-doc directive was not expanded by check-docs.py',
            line=self.lineno)]


def register_sphinx_stand_ins():
    for name in SPHINX_ROLES:
        roles.register_local_role(name, text_role)
    for name in ('c:function', 'c:struct', 'c:union', 'c:enum',
                 'c:enumerator', 'c:type', 'c:macro', 'c:member', 'c:var',
                 'c:alias'):
        directives.register_directive(name, CObjectDirective)
    for name in ('c:namespace', 'c:namespace-push', 'c:namespace-pop',
                 'highlight', 'index', 'tabularcolumns', 'sectionauthor',
                 'codeauthor'):
        directives.register_directive(name, NoArgumentDirective)
    for name in ('only', 'seealso', 'versionadded', 'versionchanged',
                 'deprecated', 'centered', 'hlist', 'glossary'):
        directives.register_directive(name, BodyDirective)
    for name in ('code-block', 'sourcecode'):
        directives.register_directive(name, LiteralBodyDirective)
    directives.register_directive('toctree', TocTreeDirective)
    directives.register_directive('kernel-doc', UnexpandedKernelDoc)


# kernel-doc turns "@name" into "**name**" and "%CONST" into "``CONST``".
# Followed directly by a letter, digit or bracket ("@lvl[0]"), that end
# string does not close the markup: docutils either warns or, if a later
# "**" closes it, silently renders the wrong span in bold.  Catch both.
GLUED_MARKUP_RE = re.compile(
    r'(?<![\w*`])(\*\*|``)(?=\S)((?:(?!\1).)+?)(?<=\S)\1(?=[\w\[(])')


def glued_markup(lines, source_path):
    found = []
    for n, line in enumerate(lines, 1):
        for m in GLUED_MARKUP_RE.finditer(line):
            found.append('%s:%d: inline markup %s is followed by %r and does '
                         'not end there (kernel-doc "@name[" or similar?)' %
                         (source_path, n, m.group(0),
                          line[m.end():m.end() + 1]))
    return found


def docutils_check(text, source_path):
    """Parse @text; return the reports at warning level and above."""
    stream = io.StringIO()
    overrides = {
        'report_level': 2,	# warnings and up are reported...
        'halt_level': 5,	# ...all of them, rather than halting at one
        'warning_stream': stream,
        'input_encoding': 'utf-8',
        'file_insertion_enabled': False,
        'raw_enabled': False,
        'tab_width': 8,
        'traceback': True,
    }
    publish_string(text, source_path=source_path, writer_name='null',
                   settings_overrides=overrides)
    return stream.getvalue()


def cmd_files(args):
    with open(args.rst, encoding='utf-8') as f:
        lines = f.read().splitlines()
    seen = []
    for d in find_directives(lines):
        if d.path not in seen:
            seen.append(d.path)
    print('\n'.join(seen))
    return 0


def cmd_check(args):
    rst_file = os.path.join(args.srctree, args.rst)
    with open(rst_file, encoding='utf-8') as f:
        lines = f.read().splitlines()
    errors = []
    expanded = expand(args.srctree, args.sphinx_version, args.rst, lines,
                      errors)
    with open(args.expanded, 'w', encoding='utf-8') as f:
        f.write('\n'.join(expanded) + '\n')
    errors += glued_markup(expanded, args.expanded)
    for e in errors:
        print(e)

    register_sphinx_stand_ins()
    report = docutils_check('\n'.join(expanded) + '\n', args.expanded)
    if report:
        print(report.rstrip())
    print('%s: %d kernel-doc/markup problem(s), docutils %s (expanded text: %s)' %
          (args.rst, len(errors), 'reported the above' if report else 'clean',
           args.expanded))
    return 1 if errors or report else 0


def cmd_toctree(args):
    """Sphinx warns about a document that no toctree includes."""
    docdir, name = os.path.split(args.rst)
    name = os.path.splitext(name)[0]
    for index in sorted(glob.glob(os.path.join(args.srctree, docdir, '*.rst'))):
        in_toctree = False
        with open(index, encoding='utf-8') as f:
            for line in f:
                if re.match(r'^\s*\.\.\s+toctree::', line):
                    in_toctree = True
                    continue
                if in_toctree:
                    if line.strip() and not line[0].isspace():
                        in_toctree = False
                    elif line.strip() in (name, name + '.rst'):
                        print('%s lists %s' % (os.path.relpath(
                            index, args.srctree), name))
                        return 0
    print('no toctree in %s lists %s' % (docdir, name))
    return 1


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('files')
    p.add_argument('rst')
    p.set_defaults(func=cmd_files)
    p = sub.add_parser('check')
    p.add_argument('--srctree', required=True)
    p.add_argument('--sphinx-version', required=True)
    p.add_argument('--expanded', required=True)
    p.add_argument('rst')
    p.set_defaults(func=cmd_check)
    p = sub.add_parser('toctree')
    p.add_argument('--srctree', required=True)
    p.add_argument('rst')
    p.set_defaults(func=cmd_toctree)
    args = ap.parse_args()
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
