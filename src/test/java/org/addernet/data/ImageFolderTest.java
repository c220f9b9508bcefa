package org.addernet.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Listing and numbering follow torchvision's ImageFolder; limits keep an even spread; bad files are counted against the limit. */
class ImageFolderTest {
    private static final Configuration CONF = new Configuration();

    private static void touch(Path p) throws Exception {
        Files.createDirectories(p.getParent());
        Files.write(p, new byte[] {1});
    }

    @Test
    void numbersClassByClassInSortedOrder(@TempDir Path root) throws Exception {
        // Created out of order; non-images, hidden files and Spark's marker folders are not part of the dataset.
        touch(root.resolve("train/zebra/b.JPEG"));
        touch(root.resolve("train/zebra/a.jpg"));
        touch(root.resolve("train/apple/x.png"));
        touch(root.resolve("train/apple/sub/w.jpeg"));
        touch(root.resolve("train/apple/notes.txt"));
        touch(root.resolve("train/apple/.hidden.jpg"));
        touch(root.resolve("train/_temporary/y.jpg"));
        touch(root.resolve("val/zebra/c.JPEG"));
        String train = ImageFolder.splitDir(root.toString(), "train");
        List<String> classes = ImageFolder.classes(CONF, train);
        assertEquals(List.of("apple", "zebra"), classes);
        List<ImageFolder.Entry> e = ImageFolder.list(CONF, train, classes);
        List<String> names = new ArrayList<>();
        for (ImageFolder.Entry x : e) names.add(x.id() + ":" + x.label() + ":" + root.relativize(Path.of(new java.net.URI(x.path()))));
        assertEquals(List.of("0:0:train/apple/sub/w.jpeg", "1:0:train/apple/x.png", "2:1:train/zebra/a.jpg", "3:1:train/zebra/b.JPEG"), names);
        // The val split takes the training classes' indices even when a class folder is missing.
        List<ImageFolder.Entry> v = ImageFolder.list(CONF, ImageFolder.splitDir(root.toString(), "val"), classes);
        assertEquals(1, v.size());
        assertEquals(1, v.get(0).label());
    }

    @Test
    void errorsNameTheFolder(@TempDir Path root) throws Exception {
        DataFormatException missing = assertThrows(DataFormatException.class,
                () -> ImageFolder.classes(CONF, root.resolve("train").toString()));
        assertTrue(missing.getMessage().contains(root.resolve("train").toString()), missing.getMessage());
        touch(root.resolve("train/cat/a.jpg"));
        touch(root.resolve("val/dog/a.jpg"));
        DataFormatException unknown = assertThrows(DataFormatException.class,
                () -> ImageFolder.list(CONF, root.resolve("val").toString(), List.of("cat")));
        assertTrue(unknown.getMessage().contains("'dog'"), unknown.getMessage());
        touch(root.resolve("empty/cat/readme.txt"));
        DataFormatException none = assertThrows(DataFormatException.class,
                () -> ImageFolder.list(CONF, root.resolve("empty").toString(), List.of("cat")));
        assertTrue(none.getMessage().contains("no image files"), none.getMessage());
    }

    @Test
    void limitKeepsAnEvenSpreadAndKeepAgrees() {
        List<ImageFolder.Entry> all = new ArrayList<>();
        for (int i = 0; i < 1003; i++) all.add(new ImageFolder.Entry(i, i / 100, "f" + i));
        for (int limit : new int[] {1, 7, 100, 1002}) {
            List<ImageFolder.Entry> kept = ImageFolder.limit(all, limit);
            assertEquals(limit, kept.size());
            int count = 0;
            for (int i = 0; i < 1003; i++) if (ImageFolder.keep(i, 1003, limit)) count++;
            assertEquals(limit, count, "keep() selects the same number as limit()");
            for (ImageFolder.Entry x : kept) assertTrue(ImageFolder.keep(x.id(), 1003, limit));
        }
        // Every class keeps about its share.
        long[] perClass = new long[11];
        for (ImageFolder.Entry x : ImageFolder.limit(all, 100)) perClass[x.label()]++;
        for (int c = 0; c < 10; c++) assertEquals(10, perClass[c], 1);
        assertEquals(all, ImageFolder.limit(all, 0));
    }

    @Test
    void rejectedImagesAreReportedThenFailOverTheLimit() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        List<String> bad = List.of("/d/train/a/1.jpg: truncated", "/d/train/b/2.jpg: not an image");
        ImageFolder.checkRejected(bad, 2, "/d/train", new PrintStream(out, true));
        assertTrue(out.toString().contains("skipping unreadable image /d/train/a/1.jpg: truncated"), out.toString());
        DataFormatException e = assertThrows(DataFormatException.class,
                () -> ImageFolder.checkRejected(bad, 1, "/d/train", new PrintStream(new ByteArrayOutputStream())));
        assertTrue(e.getMessage().contains("2 unreadable images (max_bad_images=1)"), e.getMessage());
        assertTrue(e.getMessage().contains("/d/train/b/2.jpg: not an image"), e.getMessage());
        assertFalse(ImageFolder.isImage(".x.jpg"));
        assertTrue(ImageFolder.isImage("X.JPEG"));
    }
}
