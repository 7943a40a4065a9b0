"""Unit tests of the pure logic of `lineinfile` (no host, no bindings):
python3 -m unittest discover -s plugins/lineinfile"""

import unittest

from lineedit import ensure


class Present(unittest.TestCase):
    def test_the_last_match_is_replaced_in_place(self):
        text = "a=1\nport=80\nb=2\nport=81\nc=3\n"
        edit = ensure(text, "port=8080", r"^port=", True)
        self.assertEqual(edit.text, "a=1\nport=80\nb=2\nport=8080\nc=3\n")
        self.assertEqual(edit.what, "line 4 replaced")

    def test_a_line_already_there_is_no_change(self):
        self.assertIsNone(ensure("a\nport=8080\n", "port=8080", r"^port=", True))
        self.assertIsNone(ensure("a\nport=8080\n", "port=8080", None, True))

    def test_no_match_appends_and_ends_the_last_line_first(self):
        edit = ensure("a\nb", "c", r"^c", True)
        self.assertEqual(edit.text, "a\nb\nc\n")
        self.assertEqual(edit.what, "line 3 added")

    def test_an_empty_file_gets_the_line(self):
        self.assertEqual(ensure("", "x", None, True).text, "x\n")

    def test_crlf_endings_are_kept(self):
        edit = ensure("a\r\nport=1\r\n", "port=2", "^port=", True)
        self.assertEqual(edit.text, "a\r\nport=2\r\n")

    def test_a_bad_regexp_raises(self):
        with self.assertRaises(Exception):
            ensure("a\n", "b", "(", True)


class Absent(unittest.TestCase):
    def test_every_match_is_removed(self):
        edit = ensure("a\nport=1\nb\nport=2\n", "", r"^port=", False)
        self.assertEqual(edit.text, "a\nb\n")
        self.assertEqual(edit.what, "2 lines removed")

    def test_without_regexp_the_exact_line_is_removed(self):
        edit = ensure("a\nb\nab\n", "b", None, False)
        self.assertEqual(edit.text, "a\nab\n")

    def test_nothing_to_remove_is_no_change(self):
        self.assertIsNone(ensure("a\n", "b", None, False))


if __name__ == "__main__":
    unittest.main()
